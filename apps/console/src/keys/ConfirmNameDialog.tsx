import { FormEvent, useState } from 'react';
import { Button, Dialog, Form, Heading, Input, Label, Modal, ModalOverlay, Text, TextField } from 'react-aria-components';
import { ApiKeyInfo, keysApi } from '../api';
import { ErrorNotice } from '../ErrorNotice';
import { SecretOnce } from '../SecretOnce';

interface Props {
  kind: 'regenerate' | 'delete';
  token: string;
  keyInfo: ApiKeyInfo;
  onDone: (message: string) => void;
  onClose: () => void;
}

/**
 * Regenerate and delete: the button enables once the key's name is typed, and the typed name goes to
 * the service as confirm_name (a key renamed meanwhile answers 412, and nothing changes).
 */
export function ConfirmNameDialog({ kind, token, keyInfo, onDone, onClose }: Props) {
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const regenerate = kind === 'regenerate';

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (typed !== keyInfo.name) return;
    setBusy(true);
    setError(null);
    try {
      if (regenerate) {
        const { api_key_info: key } = await keysApi.regenerate(token, keyInfo.uuid, typed);
        setSecret(key.secret_key ?? null);
        onDone(`Key ${keyInfo.name} regenerated: the previous secret no longer works.`);
      } else {
        await keysApi.remove(token, keyInfo.uuid, typed);
        onDone(`Key ${keyInfo.name} deleted.`);
        onClose();
      }
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const showingSecret = secret !== null;
  return (
    <ModalOverlay
      className="overlay"
      isOpen
      isDismissable={!showingSecret}
      isKeyboardDismissDisabled={showingSecret}
      onOpenChange={(open) => (open ? undefined : onClose())}
    >
      <Modal className="modal">
        <Dialog className="dialog" role={showingSecret ? 'dialog' : 'alertdialog'}>
          <Heading slot="title">{regenerate ? 'Regenerate model access key' : 'Delete model access key'}</Heading>
          {showingSecret ? (
            <SecretOnce secret={secret} onDone={onClose} />
          ) : (
            <Form onSubmit={submit}>
              <p className="warning">
                {regenerate
                  ? 'A new secret replaces the current one at once: the current secret stops working, with no grace period.'
                  : 'Deleting the key destroys it for good: applications using it lose access.'}
              </p>
              <TextField className="field" value={typed} onChange={setTyped} autoFocus>
                <Label>Type the key's name to confirm</Label>
                <Input autoComplete="off" spellCheck={false} />
                <Text slot="description">
                  The key's name is <strong className="confirm-name">{keyInfo.name}</strong>
                </Text>
              </TextField>
              <ErrorNotice error={error} />
              <div className="actions">
                <Button className="button" onPress={onClose}>
                  Cancel
                </Button>
                <Button className={`button ${regenerate ? 'primary' : 'danger'}`} type="submit" isDisabled={busy || typed !== keyInfo.name}>
                  {regenerate ? 'Regenerate access key' : 'Delete access key'}
                </Button>
              </div>
            </Form>
          )}
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}
