import Fastify from 'fastify';
import sessionmesh from 'sessionmesh/fastify';

const app = Fastify();
await app.register(sessionmesh, {
  secret: process.env.SESSION_SECRET ?? 'change-me-to-32-random-characters!!',
});
app.get('/', async (request) => {
  request.session.set('views', (request.session.get('views') ?? 0) + 1);
  return { views: request.session.get('views') };
});
await app.listen({ port: Number(process.env.PORT ?? 3000) });
console.log(`listening ${app.server.address().port}`);
