// Structured logs: one JSON object per line (pino) on stdout, each with the process's
// server id and role, so a log pipeline can follow a message from the replica that took it
// to the worker that stored it. What is logged at info never carries secrets or message
// bodies: operations are logged by name, user id and request id (server/operation-log.ts),
// never with their variables; tokens and passwords are redacted wherever they appear.
import pino from "pino";

export type Logger = pino.Logger;

/**
 * Lines are written to stdout off the event loop, several at a time when they come faster
 * than stdout takes them. pino's default writes each line with a blocking write: a busy
 * replica logs a line per operation and per subscription, and those writes were about 3 %
 * of its time (profiles of issue 10). pino flushes what is buffered when the process exits.
 * A stdout that stops taking lines drops them past MAX_BUFFERED_LOG_BYTES rather than
 * growing without bound or stopping the server.
 */
const MAX_BUFFERED_LOG_BYTES = 16 * 1024 * 1024;

export function createLogger(options: { serverId: string; role: string; level: string }): Logger {
  return pino(
    {
      level: options.level,
      base: { server: options.serverId, role: options.role },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          "*.authorization",
          "*.password",
          "*.accessToken",
          "*.refreshToken",
          "*.headers.authorization",
        ],
        censor: "[redacted]",
      },
    },
    pino.destination({ dest: 1, sync: false, maxLength: MAX_BUFFERED_LOG_BYTES }),
  );
}
