/**
 * Numbers given on the command line: each parser checks its flag's value and, when it is wrong, says in one line
 * (exit 2) which flag, what was given and what to give instead.
 */
import { CliError } from '../runtime/exit';

/** A whole number in [min, max]; `hint` says what to give (e.g. "give a whole number of runs, e.g. 20"). */
export function wholeNumber(
  flag: string,
  hint: string,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!Number.isInteger(number) || number < min || number > max) throw new CliError(`${flag} ${value}: ${hint}`);
    return number;
  };
}

/** A number above 0 (and at most `max`). */
export function positiveNumber(flag: string, hint: string, max = Number.MAX_VALUE): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!Number.isFinite(number) || number <= 0 || number > max) throw new CliError(`${flag} ${value}: ${hint}`);
    return number;
  };
}
