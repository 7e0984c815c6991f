/**
 * process-name: how every part of salt-autoscaler names this host and this process (the SQLite lease owner,
 * the etcd election value, `/api/leader`'s `self`), so two processes are told apart the same way everywhere.
 *
 *   localHost()   -> `<hostname>@<pid ns inode>`              (Linux; the hostname alone elsewhere)
 *   processName() -> `<hostname>@<pid ns inode>:<pid>:<random>`
 *
 * Two containers may share a hostname and a state volume, and a pid is only meaningful inside its own
 * namespace: the namespace's inode tells them apart; the random part tells a restarted process with a reused
 * pid from its predecessor.
 */
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';

/** localHost names this host and PID namespace. */
export function localHost(): string {
  try {
    const ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
    return ns === undefined ? hostname() : `${hostname()}@${ns}`;
  } catch {
    return hostname(); // not Linux: the hostname alone
  }
}

/** processName names this process: its host, its pid and a random part. */
export function processName(): string {
  return `${localHost()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}
