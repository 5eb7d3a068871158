/**
 * Sign-in through the service's OpenID Connect provider: the authorization-code flow with PKCE (S256),
 * as a public client (no secret lives in a browser), with panva's oauth4webapi for discovery, the
 * authorization response's checks (state, RFC 9207 iss) and the code exchange.
 *
 * The round trip's code_verifier, state and nonce are kept in sessionStorage from the redirect to the
 * callback only, and removed as soon as the callback is read, whether it signs in or fails.
 */
import * as oauth from 'oauth4webapi';
import { bearerOf } from './session';

/** GET /v1/console/config's oidc: AUTH_ISSUER, CONSOLE_OIDC_CLIENT_ID, CONSOLE_OIDC_SCOPES. */
export interface OidcSettings {
  readonly issuer: string;
  readonly client_id: string;
  readonly scopes: string;
}

const PENDING_KEY = 'model-keys-console.oidc-pending';

interface Pending {
  readonly codeVerifier: string;
  readonly state: string;
  readonly nonce: string;
}

/** The console's own address: the provider sends the person back here with ?code=...&state=... */
export function redirectUri(): string {
  return new URL('/console/', window.location.origin).href;
}

/** http issuers only outside production: the service refuses them with NODE_ENV=production (AUTH_ISSUER). */
function options(issuer: URL): { [oauth.allowInsecureRequests]?: boolean } {
  return issuer.protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {};
}

async function discover(settings: OidcSettings): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(settings.issuer);
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...options(issuer) });
  return oauth.processDiscoveryResponse(issuer, response);
}

/** Leaves for the provider's authorization endpoint, with the PKCE challenge, a state and a nonce. */
export async function startSignIn(settings: OidcSettings): Promise<void> {
  const server = await discover(settings);
  if (server.authorization_endpoint === undefined) throw new Error(`the provider ${settings.issuer} publishes no authorization_endpoint`);
  const pending: Pending = { codeVerifier: oauth.generateRandomCodeVerifier(), state: oauth.generateRandomState(), nonce: oauth.generateRandomNonce() };
  const url = new URL(server.authorization_endpoint);
  url.searchParams.set('client_id', settings.client_id);
  url.searchParams.set('redirect_uri', redirectUri());
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', settings.scopes);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(pending.codeVerifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', pending.state);
  url.searchParams.set('nonce', pending.nonce);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  window.location.assign(url.href);
}

/** Whether this page load is the provider sending the person back (a sign-in started in this tab). */
export function isCallback(): boolean {
  const query = new URLSearchParams(window.location.search);
  return sessionStorage.getItem(PENDING_KEY) !== null && (query.has('code') || query.has('error'));
}

/** Forgets a round trip the console can no longer finish (the service no longer offers the provider). */
export function abandonCallback(): void {
  sessionStorage.removeItem(PENDING_KEY);
  window.history.replaceState(null, '', `${window.location.pathname}${window.location.hash}`);
}

/**
 * Reads the callback: checks state (and iss), exchanges the code with the verifier, and returns the
 * bearer token. The pending round trip is removed and the address cleaned (no code in history) first.
 */
export async function completeSignIn(settings: OidcSettings): Promise<string> {
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  const current = new URL(window.location.href);
  window.history.replaceState(null, '', `${current.pathname}${current.hash}`);
  if (raw === null) throw new Error('no sign-in was started in this tab');
  const pending = JSON.parse(raw) as Pending;
  const server = await discover(settings);
  const client: oauth.Client = { client_id: settings.client_id };
  let parameters: URLSearchParams;
  try {
    parameters = oauth.validateAuthResponse(server, client, current, pending.state);
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) {
      throw new Error(`the provider refused the sign-in: ${error.error}${error.error_description ? `: ${error.error_description}` : ''}`);
    }
    throw error;
  }
  const response = await oauth.authorizationCodeGrantRequest(server, client, oauth.None(), parameters, redirectUri(), pending.codeVerifier, options(new URL(settings.issuer)));
  let answer: oauth.TokenEndpointResponse;
  try {
    answer = await oauth.processAuthorizationCodeResponse(server, client, response, { expectedNonce: pending.nonce, requireIdToken: true });
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError) throw new Error(`the provider's token endpoint refused the code: ${error.error}${error.error_description ? `: ${error.error_description}` : ''}`);
    throw error;
  }
  const token = bearerOf(answer);
  if (token === null) throw new Error('the provider answered with neither a JWT access token nor an ID token');
  return token;
}
