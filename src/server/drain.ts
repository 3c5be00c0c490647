// Closing the HTTP server without cutting requests in flight. `server.close()` only stops
// accepting; keep-alive connections stay open, and `closeAllConnections()` (what stopping
// did before) cuts the requests still running on them: a send answered by nothing, which
// its client cannot tell from a lost one. Here connections are closed once idle (Node
// counts one as busy from its request's headers until its response is out), and only
// what still runs at the deadline is cut.
import type { Server } from "node:http";

/** How often connections that finished their request are looked for. */
const IDLE_SWEEP_MS = 25;

/** Stops accepting; resolves once every request has been answered, or at `deadline` (epoch ms). */
export async function drainHttpServer(server: Server, deadline: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), Math.max(0, deadline - Date.now()));
  });
  try {
    if ((await Promise.race([closed, late])) === "late") {
      server.closeAllConnections();
      await closed;
    }
  } finally {
    clearInterval(sweep);
    clearTimeout(timer);
  }
}
