import { FormEvent, useEffect, useState } from 'react';
import { Button, FieldError, Form, Input, Label, Radio, RadioGroup, Text, TextArea, TextField } from 'react-aria-components';
import { ApiError, request } from './api';
import { ErrorNotice } from './ErrorNotice';
import { Session, sessionOf } from './session';

interface ConsoleConfig {
  dev_sign_in: boolean;
  roles: string[];
}

/** Sign-in: paste a token; in development, pick a team, user and role (the service then signs one). */
export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [configError, setConfigError] = useState<unknown>(null);
  useEffect(() => {
    request<ConsoleConfig>(null, 'GET', '/v1/console/config').then(setConfig, setConfigError);
  }, []);

  return (
    <div className="sign-in">
      <ErrorNotice error={configError} />
      <PasteToken onSignedIn={onSignedIn} />
      {config?.dev_sign_in ? <DevSignIn roles={config.roles} onSignedIn={onSignedIn} /> : null}
    </div>
  );
}

function PasteToken({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const session = sessionOf(token);
    if (session === null) return setError(new Error('This is not a token of this service: it names no team, user and role.'));
    try {
      // The service is the judge of the token: one read that any role but a gateway may make.
      await request(session.token, 'GET', '/v2/gen-ai/models/api_keys?per_page=1');
      onSignedIn(session);
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 403 && session.role !== 'gateway') return onSignedIn(session);
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

function DevSignIn({ roles, onSignedIn }: { roles: string[]; onSignedIn: (session: Session) => void }) {
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
      onSignedIn(session);
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
