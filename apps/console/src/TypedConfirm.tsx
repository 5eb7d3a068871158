import { FormEvent, ReactNode, useState } from 'react';
import { Button, Dialog, Form, Heading, Input, Label, Modal, ModalOverlay, Text, TextField } from 'react-aria-components';
import { ErrorNotice } from './ErrorNotice';

/**
 * A destructive action whose button enables once `name` is typed exactly; the typed name goes to `onConfirm`.
 * `details`, if given, shows under the warning, before the name is typed (what the action takes away).
 */
export function TypedConfirm(props: {
  title: string;
  warning: ReactNode;
  details?: ReactNode;
  name: string;
  action: string;
  onConfirm: (typed: string) => Promise<void>;
  onClose: () => void;
}) {
  const { title, warning, details, name, action, onConfirm, onClose } = props;
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (typed !== name) return;
    setBusy(true);
    setError(null);
    try {
      await onConfirm(typed);
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
        <Dialog className="dialog" role="alertdialog">
          <Heading slot="title">{title}</Heading>
          <Form onSubmit={submit}>
            <p className="warning">{warning}</p>
            {details}
            <TextField className="field" value={typed} onChange={setTyped} autoFocus>
              <Label>Type the key's name to confirm</Label>
              <Input autoComplete="off" spellCheck={false} />
              <Text slot="description">
                The key's name is <strong>{name}</strong>
              </Text>
            </TextField>
            <ErrorNotice error={error} />
            <div className="actions">
              <Button className="button" onPress={onClose}>
                Cancel
              </Button>
              <Button className="button danger" type="submit" isDisabled={busy || typed !== name}>
                {action}
              </Button>
            </div>
          </Form>
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}
