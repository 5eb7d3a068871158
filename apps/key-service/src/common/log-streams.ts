/**
 * A log line that cannot be written (stdout or stderr on a full disk: ENOSPC; a closed pipe: EPIPE)
 * is dropped. Without a listener, the stream's 'error' event would end the process at its next line.
 * The streams go on: once the disk has room again, later lines are written.
 */
export function keepLogStreamsAlive(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', () => undefined);
  }
}
