/** The service's public HTTP API, as the console uses it: same origin, the bearer token, nothing else. */

/** An answer other than 2xx: the service's message and request id, shown wherever it happens. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly requestId: string | null,
    readonly code: string | null,
  ) {
    super(message);
  }
}

export interface ApiKeyInfo {
  uuid: string;
  name: string;
  secret_key?: string;
  created_at: string;
  created_by: string;
  updated_at: string;
  models: 'all' | string[];
  vpc_uuid: string | null;
  batch_inference_enabled: boolean;
  legacy: boolean;
  description: string | null;
  deployment_names: string[];
  expires_at: string | null;
  secret_prefix: string | null;
}

export interface KeyPage {
  api_key_infos: ApiKeyInfo[];
  meta: { page: number; pages: number; total: number };
}

export type KeyView = 'mine' | 'legacy' | 'team';

export const KEYS_PATH = '/v2/gen-ai/models/api_keys';

/** The window event sent when the service refuses the session's token (401). */
export const SESSION_ENDED = 'model-keys-console:session-ended';

/** An error from what fetch threw or the service answered: the body's message and request id when there is one. */
export async function errorOf(response: Response): Promise<ApiError> {
  const requestId = response.headers.get('x-request-id');
  let message = `${response.status} ${response.statusText}`.trim();
  let code: string | null = null;
  try {
    const body = (await response.json()) as { message?: unknown; request_id?: unknown; code?: unknown };
    if (typeof body.message === 'string') message = body.message;
    if (typeof body.code === 'string') code = body.code;
    if (typeof body.request_id === 'string') return new ApiError(response.status, message, body.request_id, code);
  } catch {
    // not JSON: the status line is the message
  }
  return new ApiError(response.status, message, requestId, code);
}

export async function request<T>(token: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (error) {
    throw new ApiError(0, `the service could not be reached: ${(error as Error).message}`, null, null);
  }
  if (!response.ok) {
    const error = await errorOf(response);
    // A refused token (expired, or signed with a secret since retired) ends the session: the app offers a new sign-in.
    if (response.status === 401 && token) window.dispatchEvent(new CustomEvent(SESSION_ENDED, { detail: error }));
    throw error;
  }
  return (response.status === 204 ? undefined : await response.json()) as T;
}

export const keysApi = {
  list: (token: string, view: KeyView, page: number, perPage: number) =>
    request<KeyPage>(token, 'GET', `${KEYS_PATH}?view=${view}&page=${page}&per_page=${perPage}`),
  create: (token: string, body: { name: string; models: 'all' | string[]; batch_inference_enabled?: boolean; vpc_uuid?: string }, idempotencyKey: string) =>
    request<{ api_key_info: ApiKeyInfo }>(token, 'POST', KEYS_PATH, body, { 'idempotency-key': idempotencyKey }),
  rename: (token: string, uuid: string, name: string) => request<{ api_key_info: ApiKeyInfo }>(token, 'PUT', `${KEYS_PATH}/${uuid}`, { name }),
  regenerate: (token: string, uuid: string, confirmName: string) =>
    request<{ api_key_info: ApiKeyInfo }>(token, 'PUT', `${KEYS_PATH}/${uuid}/regenerate`, { confirm_name: confirmName }),
  remove: (token: string, uuid: string, confirmName: string) =>
    request<{ api_key_info: ApiKeyInfo }>(token, 'DELETE', `${KEYS_PATH}/${uuid}`, { confirm_name: confirmName }),
};

export const deploymentsApi = {
  attach: (token: string, uuid: string, deploymentName: string) =>
    request<{ api_key_info: ApiKeyInfo }>(token, 'POST', `${KEYS_PATH}/${uuid}/deployments`, { deployment_name: deploymentName }),
  detach: (token: string, uuid: string, deploymentName: string) =>
    request<{ api_key_info: ApiKeyInfo }>(token, 'DELETE', `${KEYS_PATH}/${uuid}/deployments/${encodeURIComponent(deploymentName)}`),
};

export interface AuditEvent {
  position: number;
  stream_id: string;
  revision: number;
  type: string;
  data: Record<string, unknown>;
  metadata: {
    actor?: { userId?: string; role?: string; teamId?: string };
    requestId?: string | null;
    sourceIp?: string | null;
    userAgent?: string | null;
  };
  recorded_at: string;
  prev_hash: string | null;
  hash: string;
}

export interface KeyStateAt {
  as_of: string;
  existed: boolean;
  deleted: boolean;
  expired: boolean;
  secret_generation: number | null;
  revision: number | null;
  key: Record<string, unknown> | null;
}

export interface KeyChain {
  intact: boolean;
  events: number;
  head_hash: string | null;
  broken: { revision: number; position: number; field: string; expected: string; found: string; message: string } | null;
}

export const auditApi = {
  keyChain: (token: string, uuid: string) => request<KeyChain>(token, 'GET', `/v1/audit/keys/${encodeURIComponent(uuid)}/chain`),
  teamEvents: (token: string, after: number, limit: number, filter: { type?: string; actor?: string }) => {
    const query = new URLSearchParams({ after: String(after), limit: String(limit) });
    if (filter.type) query.set('type', filter.type);
    if (filter.actor) query.set('actor', filter.actor);
    return request<{ events: AuditEvent[]; next_after: number }>(token, 'GET', `/v1/audit/events?${query}`);
  },
  keyEvents: (token: string, uuid: string) => request<{ events: AuditEvent[] }>(token, 'GET', `/v1/audit/keys/${encodeURIComponent(uuid)}/events`),
  keyState: (token: string, uuid: string, asOf: string) =>
    request<KeyStateAt>(token, 'GET', `/v1/audit/keys/${encodeURIComponent(uuid)}/state?as_of=${encodeURIComponent(asOf)}`),
};

/** Gcore's inference API keys: addressed by name in the caller's project (the team). */
export interface InferenceApiKey {
  name: string;
  description: string | null;
  created_at: string;
  expires_at: string | null;
  deployment_names: string[];
  secret?: string;
}

const gcorePath = (project: string) => `/cloud/v3/inference/${encodeURIComponent(project)}/api_keys`;

export const gcoreApi = {
  list: (token: string, project: string, limit: number, offset: number) =>
    request<{ results: InferenceApiKey[]; count: number }>(token, 'GET', `${gcorePath(project)}?limit=${limit}&offset=${offset}`),
  create: (token: string, project: string, body: { name: string; description?: string; deployment_names?: string[]; expires_at?: string }) =>
    request<InferenceApiKey>(token, 'POST', gcorePath(project), body),
  update: (token: string, project: string, name: string, body: { description?: string | null; deployment_names?: string[]; expires_at?: string | null }) =>
    request<InferenceApiKey>(token, 'PATCH', `${gcorePath(project)}/${encodeURIComponent(name)}`, body),
  remove: (token: string, project: string, name: string) => request<void>(token, 'DELETE', `${gcorePath(project)}/${encodeURIComponent(name)}`),
};

export type Provider = 'anthropic' | 'openai';

export interface ProviderKeyInfo {
  uuid: string;
  name: string;
  created_at: string;
  created_by: string;
  updated_at: string;
  models?: string[];
}

const providerPath = (provider: Provider) => `/v2/gen-ai/${provider}/keys`;

/** An agent linked to a provider key by the agent platform (GET .../keys/{uuid}/agents, DigitalOcean's list). */
export interface ProviderKeyAgent {
  uuid: string;
  name: string | null;
  linked_at: string;
  last_used_at: string | null;
}

/** The most agents a delete window names; past that it gives the count. */
export const AGENTS_SHOWN = 200;

export const providerApi = {
  list: (token: string, provider: Provider, page: number, perPage: number) =>
    request<{ api_key_infos: ProviderKeyInfo[]; meta: { page: number; pages: number; total: number } }>(
      token,
      'GET',
      `${providerPath(provider)}?page=${page}&per_page=${perPage}`,
    ),
  create: (token: string, provider: Provider, body: { api_key: string; name: string }) =>
    request<{ api_key_info: ProviderKeyInfo }>(token, 'POST', providerPath(provider), body),
  update: (token: string, provider: Provider, uuid: string, body: { api_key?: string; name?: string }) =>
    request<{ api_key_info: ProviderKeyInfo }>(token, 'PUT', `${providerPath(provider)}/${uuid}`, body),
  agents: (token: string, provider: Provider, uuid: string) =>
    request<{ agents: ProviderKeyAgent[]; meta: { total: number } }>(token, 'GET', `${providerPath(provider)}/${uuid}/agents?page=1&per_page=${AGENTS_SHOWN}`),
  remove: (token: string, provider: Provider, uuid: string, confirmName: string) =>
    request<{ api_key_info: ProviderKeyInfo }>(token, 'DELETE', `${providerPath(provider)}/${uuid}`, { confirm_name: confirmName }),
};
