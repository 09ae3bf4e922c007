import { createServer } from 'node:http';
import { withSession } from 'sessionmesh/node';

const secret = process.env.SESSION_SECRET ?? 'change-me-to-32-random-characters!!';
const server = createServer(
  withSession({ secret }, (req, res) => {
    req.session.views = (req.session.views ?? 0) + 1;
    res.end(`views: ${req.session.views}`);
  }),
);
server.listen(Number(process.env.PORT ?? 3000), () =>
  console.log(`listening ${server.address().port}`),
);
