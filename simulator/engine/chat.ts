/**
 * Persistent Chat's data, as far as disaster recovery cares: messages posted to mgc, each one a log record. A
 * message is acknowledged only once it is written (and, with synchronous mirroring, on the mirror too), so the
 * messages a recovered copy lacks are exactly the data lost.
 */
import type { ChatMessage, Database } from './database';
import type { SqlInstance } from './instance';
import { afterWrite } from './mirroring';

export function postChatMessage(
  instance: SqlInstance,
  database: Database,
  message: { clientId: string; author: string; body: string },
): ChatMessage {
  const last = database.messages[database.messages.length - 1];
  const posted: ChatMessage = {
    id: (last?.id ?? 0) + 1,
    clientId: message.clientId,
    author: message.author,
    body: message.body,
    postedAt: new Date(),
    lsn: database.allocateLsn(),
  };
  database.messages.push(posted);
  afterWrite(instance, database);
  instance.changed();
  return posted;
}
