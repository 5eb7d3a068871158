import { useState } from 'react';
import { Button } from 'react-aria-components';
import { Session, storeSession, storedSession } from './session';
import { SignIn } from './SignIn';
import { ModelKeysPage } from './keys/ModelKeysPage';

export function App() {
  const [session, setSession] = useState<Session | null>(() => storedSession());
  const signIn = (next: Session | null) => {
    storeSession(next);
    setSession(next);
  };
  if (session === null) {
    return (
      <main className="page narrow">
        <h1>Model keys console</h1>
        <SignIn onSignedIn={signIn} />
      </main>
    );
  }
  return (
    <>
      <header className="topbar">
        <span className="brand">Model keys console</span>
        <nav aria-label="Screens">
          <a href="#model-access-keys" aria-current="page">
            Model access keys
          </a>
        </nav>
        <span className="who" data-testid="who">
          {session.userId} · {session.role} · team {session.teamId}
        </span>
        <Button className="button" onPress={() => signIn(null)}>
          Sign out
        </Button>
      </header>
      <main className="page" id="model-access-keys">
        <ModelKeysPage session={session} />
      </main>
    </>
  );
}
