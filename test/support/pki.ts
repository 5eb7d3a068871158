import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const OPENSSL = fs.existsSync('/usr/bin/openssl') ? '/usr/bin/openssl' : 'openssl';

function openssl(args: string[], cwd: string): void {
  execFileSync(OPENSSL, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** PEM files of one certificate: `cert` (the leaf, then the CA when `chain`), `key`, and its serial in upper-case hex. */
export interface Issued {
  readonly cert: string;
  readonly key: string;
  readonly serial: string;
}

export interface Pki {
  readonly dir: string;
  /** The CA's certificate (PEM file). */
  readonly caCert: string;
  /** A server certificate for 127.0.0.1 and localhost. */
  server(name: string, options?: { chain?: boolean }): Issued;
  /** A client certificate; `uri` becomes its URI SAN (e.g. spiffe://example.org/team/ops/role/gateway/user/gw-1). */
  client(name: string, uri?: string): Issued;
  remove(): void;
}

let serialCounter = 0x1000 + Math.floor(Math.random() * 0x1000);

/**
 * A throwaway CA made with openssl at run time, in a temporary directory: nothing private is committed.
 * P-256 keys (fast to make); certificates valid for two days.
 */
export function createPki(label = 'Test CA'): Pki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pki-'));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', `/CN=${label}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const issue = (name: string, extensions: string, chain = false): Issued => {
    const serial = (++serialCounter).toString(16).toUpperCase().padStart(4, '0');
    fs.writeFileSync(path.join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\n${extensions}\n`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${serial}`, '-days', '1', '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir);
    const cert = path.join(dir, `${name}.crt`);
    if (chain) fs.appendFileSync(cert, fs.readFileSync(path.join(dir, 'ca.crt')));
    return { cert, key: path.join(dir, `${name}.key`), serial };
  };
  return {
    dir,
    caCert: path.join(dir, 'ca.crt'),
    server: (name, options = {}) => issue(name, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth', options.chain ?? false),
    client: (name, uri) => issue(name, `${uri ? `subjectAltName=URI:${uri}\n` : ''}extendedKeyUsage=clientAuth`),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
