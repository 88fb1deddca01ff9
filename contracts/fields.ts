/**
 * The fields people write into messages and run inputs: who (a person's name) and free text, with their limits.
 */
import { z } from 'zod';

/** The longest person name, gate id or evidence version a message may carry. */
export const NAME_LIMIT = 128;
/** The longest comment or reason. */
export const TEXT_LIMIT = 2_000;

/** A person, as the approval policy names them: printable, trimmed, at most NAME_LIMIT characters. */
export const personName = z
  .string({ error: 'must be text (a person)' })
  .trim()
  .min(1, 'must name a person')
  .max(NAME_LIMIT, `must be at most ${NAME_LIMIT} characters`)
  .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters');
/** Free text that may be empty (a run's reason, a message's comment), at most TEXT_LIMIT characters. */
export const optionalText = z
  .string({ error: 'must be text' })
  .max(TEXT_LIMIT, `must be at most ${TEXT_LIMIT} characters`);
