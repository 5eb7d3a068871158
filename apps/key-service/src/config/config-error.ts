/** A bad configuration value: start-up stops with one line naming the variable (`VARIABLE: what is wrong`). */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}
