import { FormEvent, useState } from 'react';
import { Button, Dialog, FieldError, Form, Heading, Input, Label, Modal, ModalOverlay, Text, TextField } from 'react-aria-components';
import { ApiKeyInfo, deploymentsApi } from '../api';
import { ErrorNotice } from '../ErrorNotice';

const DEPLOYMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Attach the key to deployments and detach it; a key still attached cannot be deleted. */
export function DeploymentsDialog(props: { token: string; keyInfo: ApiKeyInfo; readOnly: boolean; onChanged: (key: ApiKeyInfo) => void; onClose: () => void }) {
  const { token, readOnly, onChanged, onClose } = props;
  const [key, setKey] = useState(props.keyInfo);
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async (change: () => Promise<{ api_key_info: ApiKeyInfo }>) => {
    setBusy(true);
    setError(null);
    try {
      const { api_key_info: next } = await change();
      setKey(next);
      onChanged(next);
      return true;
    } catch (failure) {
      setError(failure);
      return false;
    } finally {
      setBusy(false);
    }
  };
  const attach = async (event: FormEvent) => {
    event.preventDefault();
    if (!DEPLOYMENT_NAME.test(name)) return;
    if (await run(() => deploymentsApi.attach(token, key.uuid, name))) setName('');
  };
  return (
    <ModalOverlay className="overlay" isOpen isDismissable onOpenChange={(open) => (open ? undefined : onClose())}>
      <Modal className="modal">
        <Dialog className="dialog">
          <Heading slot="title">Deployments of {key.name}</Heading>
          {key.deployment_names.length === 0 ? (
            <p className="hint">Not attached to any deployment.</p>
          ) : (
            <ul className="deployments" aria-label="Attached deployments">
              {key.deployment_names.map((deployment) => (
                <li key={deployment}>
                  <code>{deployment}</code>
                  {readOnly ? null : (
                    <Button className="button" isDisabled={busy} onPress={() => run(() => deploymentsApi.detach(token, key.uuid, deployment))} aria-label={`Detach ${deployment}`}>
                      Detach
                    </Button>
                  )}
                </li>
              ))}
            </ul>
          )}
          {readOnly ? null : (
            <Form onSubmit={attach}>
              <TextField
                className="field"
                value={name}
                onChange={setName}
                isRequired
                validate={(value) => (value === '' || DEPLOYMENT_NAME.test(value) ? null : '1-128 letters, digits, dots, underscores or hyphens, starting with a letter or digit.')}
              >
                <Label>Deployment name</Label>
                <Input autoComplete="off" spellCheck={false} />
                <Text slot="description">A key attached to a deployment cannot be deleted until it is detached.</Text>
                <FieldError />
              </TextField>
              <div className="actions">
                <Button className="button primary" type="submit" isDisabled={busy}>
                  Attach
                </Button>
              </div>
            </Form>
          )}
          <ErrorNotice error={error} />
          <div className="actions">
            <Button className="button" onPress={onClose}>
              Close
            </Button>
          </div>
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}
