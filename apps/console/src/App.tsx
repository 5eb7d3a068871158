import { useCallback, useEffect, useState } from 'react';
import { Button } from 'react-aria-components';
import { ApiError, SESSION_ENDED } from './api';
import { AuditPage } from './audit/AuditPage';
import { ErrorNotice } from './ErrorNotice';
import { GcoreKeysPage } from './gcore/GcoreKeysPage';
import { ProviderKeysPage } from './providers/ProviderKeysPage';
import { ModelKeysPage } from './keys/ModelKeysPage';
import { ProviderClaims, Session, storeSession, storedSession } from './session';
import { SignIn } from './SignIn';

const SCREENS = ['keys', 'inference-api-keys', 'provider-keys', 'audit'] as const;
type Screen = (typeof SCREENS)[number];

/** The screens a role reaches: the audit trail is for owners and auditors (the API's rule). */
function screensFor(session: Session): { id: Screen; label: string }[] {
  const all: { id: Screen; label: string }[] = [
    { id: 'keys', label: 'Model access keys' },
    { id: 'inference-api-keys', label: 'Inference API keys' },
    { id: 'provider-keys', label: 'Provider keys' },
  ];
  return session.role === 'owner' || session.role === 'auditor' ? [...all, { id: 'audit', label: 'Audit' }] : all;
}

/** The screen is in the address's fragment (#audit): back and forward work, and nothing reaches the server. */
function screenOfHash(): Screen {
  const hash = window.location.hash.slice(1);
  return (SCREENS as readonly string[]).includes(hash) ? (hash as Screen) : 'keys';
}

export function App() {
  const [session, setSession] = useState<Session | null>(() => storedSession());
  const [screen, setScreen] = useState<Screen>(screenOfHash);
  const [ended, setEnded] = useState<ApiError | null>(null);
  useEffect(() => {
    const onHash = () => setScreen(screenOfHash());
    const onEnded = (event: Event) => setEnded((event as CustomEvent<ApiError>).detail);
    window.addEventListener('hashchange', onHash);
    window.addEventListener(SESSION_ENDED, onEnded);
    return () => {
      window.removeEventListener('hashchange', onHash);
      window.removeEventListener(SESSION_ENDED, onEnded);
    };
  }, []);
  const signIn = useCallback((next: Session | null, claims: ProviderClaims | null = null) => {
    storeSession(next, claims);
    setSession(next);
    setEnded(null);
  }, []);
  if (session === null) {
    return (
      <main className="page narrow">
        <h1>Model keys console</h1>
        <SignIn onSignedIn={signIn} />
      </main>
    );
  }
  const screens = screensFor(session);
  const current = screens.some((s) => s.id === screen) ? screen : 'keys';
  return (
    <>
      <header className="topbar">
        <span className="brand">Model keys console</span>
        <nav aria-label="Screens">
          {screens.map((s) => (
            <a key={s.id} href={`#${s.id}`} aria-current={s.id === current ? 'page' : undefined}>
              {s.label}
            </a>
          ))}
        </nav>
        <span className="who" data-testid="who">
          {session.userId} · {session.role} · team {session.teamId}
        </span>
        <Button className="button" onPress={() => signIn(null)}>
          Sign out
        </Button>
      </header>
      {ended ? (
        <section className="session-ended page" aria-labelledby="ended-title">
          <h2 id="ended-title">Your session has ended</h2>
          <ErrorNotice error={ended} />
          <Button className="button primary" onPress={() => signIn(null)}>
            Sign in again
          </Button>
        </section>
      ) : null}
      <main className="page">
        {current === 'audit' ? (
          <AuditPage session={session} />
        ) : current === 'inference-api-keys' ? (
          <GcoreKeysPage session={session} />
        ) : current === 'provider-keys' ? (
          <ProviderKeysPage session={session} />
        ) : (
          <ModelKeysPage session={session} />
        )}
      </main>
    </>
  );
}
