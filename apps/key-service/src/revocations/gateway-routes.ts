import { AuthenticatedRoutes } from '../http/authenticated-routes';

/** The routes gateways call, for every team: verification and the revocation feed. Role `gateway` only. */
export const GatewayRoutes = (tag: string) => AuthenticatedRoutes(tag, ['gateway'], 'Not a gateway token');
