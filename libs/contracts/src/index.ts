import * as path from 'node:path';

/** The build copies proto/ next to the compiled module (see the build script in package.json). */
export const PROTO_DIR = path.join(__dirname, 'proto');
export const MODEL_ACCESS_KEYS_PROTO = path.join(PROTO_DIR, 'model_access_keys.proto');
export const MODEL_ACCESS_KEYS_PACKAGE = 'modelkeys.v1';
export const GATEWAY_PROTO = path.join(PROTO_DIR, 'gateway.proto');
/** Every service the key service serves over gRPC; one package. */
export const SERVICE_PROTOS = [MODEL_ACCESS_KEYS_PROTO, GATEWAY_PROTO];
