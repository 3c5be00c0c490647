// Delivers outgoing webhooks from webhook_deliveries (written with the changes they
// announce: webhook-events.ts): at least once, with retries and exponential backoff,
// each signed. Any number of workers may run one: a delivery is taken with a lease (a
// row lock for the claim, then `locked_until`), so two never send it at once, and one
// whose worker died is taken again when its lease runs out.
//
// Signature (documented for receivers in the README): the header
//   Chat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<t>.<body>")>
// over the exact body bytes; Chat-Webhook-Id is the event's id (dedupe on it) and
// Chat-Webhook-Event its type.
import { createHmac } from "node:crypto";
import type { WebhookConfig } from "../config.js";
import type { Sql } from "../db/sql.js";
import { localId } from "../resolvers/global-ids.js";
import type { Metrics } from "../server/metrics.js";
import type { WebhookBody } from "./webhook-events.js";

/** Deliveries taken per round, and sent at once. */
const BATCH = 20;
/** How long a taken delivery is ours; past it another dispatcher may take it. */
const LEASE_MS = 60_000;
/** A receiver that has not answered by then has failed this attempt. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Longest wait between attempts. */
const MAX_BACKOFF_MS = 10 * 60_000;
/** Idle rounds: how often the table is looked at when nothing nudged. */
const POLL_MS = 500;

export function signWebhook(secret: string, timestamp: number, body: string): string {
  const mac = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return `t=${timestamp},v1=${mac}`;
}

/** Wait before attempt `attempts + 1`: base·2^(attempts−1), at most 10 minutes, ±20% jitter. */
export function backoffMs(baseMs: number, attempts: number, random = Math.random): number {
  const delay = Math.min(baseMs * 2 ** Math.max(0, attempts - 1), MAX_BACKOFF_MS);
  return Math.round(delay * (0.8 + 0.4 * random()));
}

interface DeliveryRow {
  id: string;
  url: string;
  event_id: string;
  event_type: string;
  body: string;
  attempts: number;
}

export interface WebhookDispatcherDeps {
  sql: Sql;
  config: WebhookConfig;
  /** Who is online now (mention webhooks are for offline members only). */
  isOnline(userIds: string[]): Promise<Map<string, boolean>>;
  metrics?: Metrics;
  log?: (message: string, error?: unknown) => void;
}

export class WebhookDispatcher {
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  /** Aborts deliveries in flight when the worker stops (they are retried later). */
  readonly #stopping = new AbortController();

  constructor(private readonly deps: WebhookDispatcherDeps) {}

  start() {
    this.#timer = setInterval(() => this.nudge(), POLL_MS);
    this.nudge();
  }

  /** Something may be due (a batch just wrote webhooks): deliver now rather than at the next poll. */
  nudge() {
    if (this.#stopped) return;
    if (this.#round) {
      this.#again = true;
      return;
    }
    this.#round = this.#deliverDue()
      .catch((error) => this.deps.log?.("webhook round failed; the next one retries", error))
      .finally(() => {
        this.#round = undefined;
        if (this.#again) {
          this.#again = false;
          this.nudge();
        }
      });
  }

  async stop() {
    this.#stopped = true;
    clearInterval(this.#timer);
    // A slow receiver must not hold the worker's shutdown for REQUEST_TIMEOUT_MS.
    this.#stopping.abort();
    await this.#round;
  }

  /** Takes due deliveries and sends them, round after round while a full batch was due. */
  async #deliverDue() {
    for (;;) {
      if (this.#stopped) return;
      const due = await this.deps.sql.query<DeliveryRow>(
        `UPDATE webhook_deliveries d
            SET locked_until = now() + ($1 || ' milliseconds')::interval
          WHERE d.id IN (
                SELECT id FROM webhook_deliveries
                 WHERE next_attempt_at <= now() AND failed_at IS NULL
                   AND (locked_until IS NULL OR locked_until < now())
                 ORDER BY next_attempt_at, id
                 LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING d.id::text, d.url, d.event_id::text, d.event_type, d.body, d.attempts`,
        [String(LEASE_MS), BATCH],
      );
      if (due.length === 0) return;
      const online = await this.#onlineMentioned(due);
      await Promise.all(due.map((delivery) => this.#deliver(delivery, online)));
      if (due.length < BATCH) return;
    }
  }

  /** For mention webhooks: who of the mentioned is online (they need no push). */
  async #onlineMentioned(due: DeliveryRow[]): Promise<Map<string, boolean>> {
    const userIds = due
      .filter((d) => d.event_type === "message.mentioned")
      .map((d) => localId((JSON.parse(d.body) as WebhookBody).data.userId, "User"))
      .filter((id): id is string => id !== undefined);
    if (userIds.length === 0) return new Map();
    // Presence unknown (the cache is out): deliver; a push too many beats one lost.
    return this.deps.isOnline([...new Set(userIds)]).catch(() => new Map());
  }

  async #deliver(delivery: DeliveryRow, online: Map<string, boolean>) {
    const { sql, config, metrics } = this.deps;
    if (delivery.event_type === "message.mentioned") {
      const userId = localId((JSON.parse(delivery.body) as WebhookBody).data.userId, "User");
      if (userId && online.get(userId)) {
        await sql.query("DELETE FROM webhook_deliveries WHERE id = $1", [delivery.id]);
        metrics?.webhooks.inc({ outcome: "skipped" });
        return;
      }
    }
    let error: string | undefined;
    try {
      const response = await fetch(delivery.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "chat-webhook-id": delivery.event_id,
          "chat-webhook-event": delivery.event_type,
          "chat-signature": signWebhook(
            config.secret,
            Math.floor(Date.now() / 1000),
            delivery.body,
          ),
        },
        body: delivery.body,
        signal: AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), this.#stopping.signal]),
        redirect: "manual",
      });
      await response.body?.cancel();
      if (!response.ok) error = `HTTP ${response.status}`;
    } catch (cause) {
      error = cause instanceof Error ? cause.message : String(cause);
    }
    if (error === undefined) {
      await sql.query("DELETE FROM webhook_deliveries WHERE id = $1", [delivery.id]);
      metrics?.webhooks.inc({ outcome: "delivered" });
      return;
    }
    const attempts = Number(delivery.attempts) + 1;
    if (attempts >= config.maxAttempts) {
      await sql.query(
        `UPDATE webhook_deliveries SET attempts = $2, last_error = $3, failed_at = now(),
                locked_until = NULL WHERE id = $1`,
        [delivery.id, attempts, error],
      );
      metrics?.webhooks.inc({ outcome: "failed" });
      this.deps.log?.(
        `webhook ${delivery.event_id} to ${delivery.url} given up after ${attempts} attempts: ${error}`,
      );
      return;
    }
    await sql.query(
      `UPDATE webhook_deliveries SET attempts = $2, last_error = $3, locked_until = NULL,
              next_attempt_at = now() + ($4 || ' milliseconds')::interval WHERE id = $1`,
      [delivery.id, attempts, error, String(backoffMs(config.retryBaseMs, attempts))],
    );
    metrics?.webhooks.inc({ outcome: "retried" });
  }
}
