import { ApiError } from './api';

/** An API error as the person needs it: the service's message and the request id to quote to support. */
export function ErrorNotice({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  const api = error instanceof ApiError ? error : null;
  const message = api ? api.message : error instanceof Error ? error.message : String(error);
  return (
    <div className="error" role="alert">
      <p className="error-message">
        {api && api.status > 0 ? <span className="error-status">{api.status} </span> : null}
        {message}
      </p>
      {api?.requestId ? (
        <p className="error-request">
          Request id: <code data-testid="request-id">{api.requestId}</code>
        </p>
      ) : null}
    </div>
  );
}
