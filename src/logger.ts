// Structured logs: one JSON object per line (pino) on stdout, each with the process's
// server id and role, so a log pipeline can follow a message from the replica that took it
// to the worker that stored it. What is logged at info never carries secrets or message
// bodies: operations are logged by name, user id and request id (server/operation-log.ts),
// never with their variables; tokens and passwords are redacted wherever they appear.
import pino from "pino";

export type Logger = pino.Logger;

export function createLogger(options: { serverId: string; role: string; level: string }): Logger {
  return pino({
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
  });
}
