import { FormEvent, useState } from 'react';
import { Button, Dialog, FieldError, Form, Heading, Input, Label, Modal, ModalOverlay, TextField } from 'react-aria-components';
import { ApiKeyInfo, keysApi } from '../api';
import { ErrorNotice } from '../ErrorNotice';

export function RenameDialog(props: { token: string; keyInfo: ApiKeyInfo; onRenamed: (key: ApiKeyInfo) => void; onClose: () => void }) {
  const { token, keyInfo, onRenamed, onClose } = props;
  const [name, setName] = useState(keyInfo.name);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      const { api_key_info: key } = await keysApi.rename(token, keyInfo.uuid, name.trim());
      onRenamed(key);
      onClose();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <ModalOverlay className="overlay" isOpen isDismissable onOpenChange={(open) => (open ? undefined : onClose())}>
      <Modal className="modal">
        <Dialog className="dialog">
          <Heading slot="title">Rename model access key</Heading>
          <Form onSubmit={submit}>
            <TextField className="field" value={name} onChange={setName} isRequired autoFocus>
              <Label>Key name</Label>
              <Input autoComplete="off" />
              <FieldError />
            </TextField>
            <p className="hint">The secret is unchanged: applications using the key keep working.</p>
            <ErrorNotice error={error} />
            <div className="actions">
              <Button className="button" onPress={onClose}>
                Cancel
              </Button>
              <Button className="button primary" type="submit" isDisabled={busy || name.trim() === '' || name.trim() === keyInfo.name}>
                Update
              </Button>
            </div>
          </Form>
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}
