// What an in-process app's presence tracker has been told about sockets, per user, so a
// test can wait until every open and close the server saw has been handled (announced,
// last seen stored) instead of sleeping and hoping.
import type { App } from "../../src/app.js";

export interface PresenceWork {
  /** Closes of `userId`'s sockets the tracker has finished handling. */
  closesHandled(userId: string): number;
  /** Every socket of `userId` the server opened has been closed, and all of it is handled. */
  idle(userId: string): boolean;
}

export function trackPresenceWork(app: App): PresenceWork {
  const tracker = app.services.presence;
  const opened = new Map<string, number>();
  const closed = new Map<string, number>();
  const handled = new Map<string, number>();
  const pending = new Map<string, number>();
  const add = (map: Map<string, number>, userId: string, by = 1) =>
    map.set(userId, (map.get(userId) ?? 0) + by);
  const track = (userId: string, work: Promise<void>, onDone?: () => void) => {
    add(pending, userId);
    return work.finally(() => {
      add(pending, userId, -1);
      onDone?.();
    });
  };
  const connected = tracker.connected.bind(tracker);
  const disconnected = tracker.disconnected.bind(tracker);
  tracker.connected = (userId) => {
    add(opened, userId);
    return track(userId, connected(userId));
  };
  tracker.disconnected = (userId) => {
    add(closed, userId);
    return track(userId, disconnected(userId), () => add(handled, userId));
  };
  return {
    closesHandled: (userId) => handled.get(userId) ?? 0,
    idle: (userId) =>
      (pending.get(userId) ?? 0) === 0 && (opened.get(userId) ?? 0) === (closed.get(userId) ?? 0),
  };
}
