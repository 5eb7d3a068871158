import { useState } from 'react';
import { Button, Checkbox } from 'react-aria-components';

/**
 * A secret the service shows once. It lives only in this component's state (never in storage or a
 * URL), and goes with it when the window closes; closing waits for "I've copied it".
 */
export function SecretOnce({ secret, onDone }: { secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const [copyState, setCopyState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopyState('copied');
    } catch {
      setCopyState('failed');
    }
  };
  return (
    <div className="secret-once">
      <p className="warning">This secret key is shown only now. Copy it and store it securely before you close this window.</p>
      <div className="secret-row">
        <code className="secret" data-testid="secret" aria-label="Secret key">
          {secret}
        </code>
        <Button className="button" onPress={copy}>
          Copy
        </Button>
      </div>
      <p role="status" className="hint">
        {copyState === 'copied' ? 'Copied to the clipboard.' : copyState === 'failed' ? 'The browser refused the clipboard: select the key and copy it by hand.' : ''}
      </p>
      <Checkbox className="checkbox" isSelected={copied} onChange={setCopied}>
        <div className="box" aria-hidden="true" />
        I've copied it
      </Checkbox>
      <div className="actions">
        <Button className="button primary" isDisabled={!copied} onPress={onDone}>
          Close
        </Button>
      </div>
    </div>
  );
}
