import * as fs from 'node:fs';
import { ConfigError } from './config-error';

/**
 * The value of the secret variable `name`, or the content of the file that `${name}_FILE` names, as
 * Docker and Kubernetes mount secrets (`/run/secrets/...`). A file's trailing line breaks are dropped
 * (an editor or `echo` adds one). Returns undefined when neither is set (or both are empty).
 *
 * Errors (ConfigError, naming the variable): both `name` and `${name}_FILE` set; the file cannot be
 * read (the message names the path and the system error, never the content); the file is empty.
 */
export function secretOf(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const fileVariable = `${name}_FILE`;
  const value = env[name];
  const file = env[fileVariable]?.trim();
  if (file) {
    if (value !== undefined && value !== '') throw new ConfigError(name, `set ${name} or ${fileVariable}, not both`);
    return readSecretFile(fileVariable, file);
  }
  return value === '' ? undefined : value;
}

/**
 * The content of a file a variable names (a secret, a PEM certificate or key), trailing line breaks
 * dropped. Errors (ConfigError naming `variable`): unreadable (path and system error) or empty.
 */
export function readSecretFile(variable: string, file: string): string {
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(variable, `cannot read "${file}" (${code})`);
  }
  const trimmed = content.replace(/[\r\n]+$/, '');
  if (trimmed === '') throw new ConfigError(variable, `"${file}" is empty`);
  return trimmed;
}
