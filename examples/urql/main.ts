// The urql example as a program: npx tsx examples/urql/main.ts
// API_URL (default http://localhost:4000/graphql), LOGIN and PASSWORD (default: the
// seeded alice, `npm run seed`). Ctrl-C stops it.
import { runDemo } from "./demo.js";

const url = process.env.API_URL ?? "http://localhost:4000/graphql";
const demo = await runDemo({
  url,
  wsUrl: url.replace(/^http/, "ws"),
  login: process.env.LOGIN ?? "alice",
  password: process.env.PASSWORD ?? "correct horse battery",
  print: (line) => console.log(line),
});
process.once("SIGINT", () => demo.stop());
