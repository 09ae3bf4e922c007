import express from 'express';
import session from 'sessionmesh/express';

const app = express();
app.use(session({ secret: process.env.SESSION_SECRET ?? 'change-me-to-32-random-characters!!' }));
app.get('/', (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1;
  res.send(`views: ${req.session.views}`);
});
const server = app.listen(Number(process.env.PORT ?? 3000), () =>
  console.log(`listening ${server.address().port}`),
);
