import { FormEvent, useEffect, useRef, useState } from 'react';
import { Button, FieldError, Form, Input, Label, Radio, RadioGroup, Text, TextArea, TextField } from 'react-aria-components';
import { ApiError, request } from './api';
import { ErrorNotice } from './ErrorNotice';
import { OidcSettings, abandonCallback, completeSignIn, isCallback, startSignIn } from './oidc';
import { ProviderClaims, Session, sessionOf } from './session';

interface ConsoleConfig {
  dev_sign_in: boolean;
  roles: string[];
  provider_claims: ProviderClaims | null;
  oidc: OidcSettings | null;
}

type SignedIn = (session: Session, claims: ProviderClaims | null) => void;

/**
 * The service is the judge of a token: one read that an owner, member or auditor may make (a 403 there
 * still means the token is good). Machine roles (gateway, service) are refused here. Resolves when the token may be kept.
 */
async function accepted(session: Session): Promise<void> {
  if (session.role === 'gateway' || session.role === 'service') {
    throw new Error(`This is a ${session.role} token, for machines: the console signs in people, with an owner, member or auditor token.`);
  }
  try {
    await request(session.token, 'GET', '/v2/gen-ai/models/api_keys?per_page=1');
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 403) return;
    throw failure;
  }
}

/**
 * Sign-in: through the OpenID Connect provider when the service has one for the console; paste a
 * token; in development, pick a team, user and role (the service then signs one).
 */
export function SignIn({ onSignedIn }: { onSignedIn: SignedIn }) {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [configError, setConfigError] = useState<unknown>(null);
  // Read before the first render's effects: completeSignIn cleans the address.
  const [returning] = useState(isCallback);
  useEffect(() => {
    request<ConsoleConfig>(null, 'GET', '/v1/console/config').then((answer) => {
      if (returning && answer.oidc === null) abandonCallback();
      setConfig(answer);
    }, setConfigError);
  }, [returning]);

  return (
    <div className="sign-in">
      <ErrorNotice error={configError} />
      {config?.oidc ? <ProviderSignIn settings={config.oidc} claims={config.provider_claims} returning={returning} onSignedIn={onSignedIn} /> : null}
      <PasteToken claims={config?.provider_claims ?? null} onSignedIn={onSignedIn} />
      {config?.dev_sign_in ? <DevSignIn roles={config.roles} onSignedIn={onSignedIn} /> : null}
    </div>
  );
}

function ProviderSignIn({ settings, claims, returning, onSignedIn }: { settings: OidcSettings; claims: ProviderClaims | null; returning: boolean; onSignedIn: SignedIn }) {
  const [busy, setBusy] = useState(returning);
  const [error, setError] = useState<unknown>(null);
  const completing = useRef(false);
  useEffect(() => {
    // Once only: StrictMode runs effects twice in development, and a code is good for one exchange.
    if (!returning || completing.current) return;
    completing.current = true;
    (async () => {
      const token = await completeSignIn(settings);
      const session = sessionOf(token, claims);
      if (session === null) throw new Error("The provider's token names no team, user and role this console can read (see the service's AUTH_TEAM_CLAIM, AUTH_USER_CLAIM, AUTH_ROLE_CLAIM, AUTH_ROLE_MAP).");
      await accepted(session);
      onSignedIn(session, claims);
    })().catch((failure: unknown) => {
      setError(failure);
      setBusy(false);
    });
  }, [returning, settings, claims, onSignedIn]);
  const start = async () => {
    setError(null);
    setBusy(true);
    try {
      await startSignIn(settings);
    } catch (failure) {
      setError(failure instanceof TypeError ? new Error(`the provider ${settings.issuer} could not be reached: ${failure.message}`) : failure);
      setBusy(false);
    }
  };
  const host = new URL(settings.issuer).host;
  return (
    <section className="card" aria-labelledby="provider-title">
      <h2 id="provider-title">Sign in with your identity provider</h2>
      <p className="hint">
        {busy && returning ? `Signing in through ${host}…` : `You sign in at ${host} and come back here; the console never sees your password.`}
      </p>
      <ErrorNotice error={error} />
      <Button className="button primary" onPress={start} isDisabled={busy}>
        Sign in with {host}
      </Button>
    </section>
  );
}

function PasteToken({ claims, onSignedIn }: { claims: ProviderClaims | null; onSignedIn: SignedIn }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const session = sessionOf(token, claims);
    if (session === null) return setError(new Error('This is not a token of this service: it names no team, user and role.'));
    try {
      await accepted(session);
      onSignedIn(session, claims);
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <section className="card" aria-labelledby="paste-title">
      <h2 id="paste-title">Sign in with a token</h2>
      <Form onSubmit={submit}>
        <TextField className="field" value={token} onChange={setToken} isRequired>
          <Label>Bearer token</Label>
          <TextArea rows={3} spellCheck={false} autoComplete="off" />
          <Text slot="description">It stays in this tab's session storage and is gone when the tab closes.</Text>
          <FieldError />
        </TextField>
        <ErrorNotice error={error} />
        <Button className="button primary" type="submit">
          Sign in
        </Button>
      </Form>
    </section>
  );
}

function DevSignIn({ roles, onSignedIn }: { roles: string[]; onSignedIn: SignedIn }) {
  const [team, setTeam] = useState('team-1');
  const [user, setUser] = useState('100');
  const [role, setRole] = useState('owner');
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const { token } = await request<{ token: string }>(null, 'POST', '/v1/console/dev-token', { team_id: team, user_id: user, role });
      const session = sessionOf(token);
      if (session === null) throw new Error('the service signed a token this console cannot read');
      onSignedIn(session, null);
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <section className="card" aria-labelledby="dev-title">
      <h2 id="dev-title">Development sign-in</h2>
      <p className="hint">Off when the service runs with NODE_ENV=production. Like keyctl token: the service signs a token for an hour.</p>
      <Form onSubmit={submit}>
        <TextField className="field" value={team} onChange={setTeam} isRequired>
          <Label>Team</Label>
          <Input autoComplete="off" />
          <FieldError />
        </TextField>
        <TextField className="field" value={user} onChange={setUser} isRequired>
          <Label>User</Label>
          <Input autoComplete="off" />
          <FieldError />
        </TextField>
        <RadioGroup className="field radios" value={role} onChange={setRole} orientation="horizontal">
          <Label>Role</Label>
          {roles.map((r) => (
            <Radio key={r} value={r} className="radio">
              {r}
            </Radio>
          ))}
        </RadioGroup>
        <ErrorNotice error={error} />
        <Button className="button primary" type="submit">
          Sign in as {user || '…'}
        </Button>
      </Form>
    </section>
  );
}
