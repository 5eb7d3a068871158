import { AuthenticatedRoutes } from '../../http/authenticated-routes';

export const KEYS_PATH = 'v2/gen-ai/models/api_keys';
export const GRPC_SERVICE = 'ModelAccessKeys';

/** What every model-key route shares: bearer auth for the management roles, and the error shape. */
export const ModelKeyRoutes = () => AuthenticatedRoutes('model access keys', ['owner', 'member', 'auditor']);
