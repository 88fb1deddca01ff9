/**
 * PowerShell parameter binding for the stand-in's cmdlets: named parameters (case-insensitive, by unambiguous
 * prefix), switches (`-Force`, `-Force:$false`), `-Name value` and `-Name:value`, positional values, mandatory
 * parameters, and each value converted to its parameter's type — with PowerShell's messages, so an adapter that
 * sends something production would refuse is refused here too. A missing mandatory parameter is an error, not a
 * prompt: the shell is -NonInteractive.
 */
import { ParameterBindingError } from './error-records';
import { plainValue, type PlainValue, type PsCommand, type PsValue } from './powershell-ast';

export interface ParameterType<T> {
  /** The type PowerShell names in its messages, e.g. XdsIdentity. */
  readonly typeName: string;
  /** A switch takes no separate argument: `-Force`, or `-Force:$false`. */
  readonly isSwitch?: boolean;
  /** The value as the cmdlet receives it; throws a ParameterBindingError when it does not fit. */
  convert(value: PsValue, parameterName: string): T;
}

export interface ParameterDefinition<T> {
  type: ParameterType<T>;
  mandatory: boolean;
  /** For values given without a parameter name: lower binds first. */
  position?: number;
}

export type ParameterSet = Record<string, ParameterDefinition<unknown>>;

export function mandatory<T>(type: ParameterType<T>, position?: number): ParameterDefinition<T> & { mandatory: true } {
  return { type, mandatory: true, position };
}

export function optional<T>(type: ParameterType<T>, position?: number): ParameterDefinition<T> & { mandatory: false } {
  return { type, mandatory: false, position };
}

type ValueOf<D> = D extends ParameterDefinition<infer T> ? T : never;

export type BoundParameters<S extends ParameterSet> = {
  [K in keyof S]: S[K] extends { mandatory: true } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

export interface Binding<S extends ParameterSet> {
  values: BoundParameters<S>;
  /** Every bound parameter under its full name, as it was given (switches as true/false): for the invocation log. */
  given: Record<string, PlainValue>;
}

export function bindParameters<S extends ParameterSet>(command: PsCommand, parameters: S): Binding<S> {
  const names = Object.keys(parameters);
  const bound = new Map<string, PsValue>();
  const positional: PsValue[] = [];
  const elements = command.elements;
  for (let index = 0; index < elements.length; index++) {
    const element = elements[index];
    if (element.kind === 'argument') {
      positional.push(element.value);
      continue;
    }
    const name = resolveParameterName(names, element.name, element.extent);
    if (bound.has(name)) {
      throw new ParameterBindingError(
        `Cannot bind parameter because parameter '${name}' is specified more than once. To provide multiple values to parameters that can accept multiple values, use the array syntax. For example, "-parameter value1,value2,value3".`,
        'ParameterAlreadyBound',
        element.extent,
      );
    }
    const definition = parameters[name];
    if (element.argument) {
      bound.set(name, element.argument);
    } else if (definition.type.isSwitch) {
      bound.set(name, { kind: 'boolean', value: true, extent: element.extent });
    } else {
      const next = elements[index + 1];
      if (next === undefined || next.kind === 'parameter') {
        throw new ParameterBindingError(
          `Missing an argument for parameter '${name}'. Specify a parameter of type '${definition.type.typeName}' and try again.`,
          'MissingArgument',
          element.extent,
        );
      }
      bound.set(name, next.value);
      index++;
    }
  }

  const positions = names
    .filter((name) => parameters[name].position !== undefined && !bound.has(name))
    .sort((a, b) => (parameters[a].position as number) - (parameters[b].position as number));
  for (const value of positional) {
    const name = positions.shift();
    if (name === undefined) {
      throw new ParameterBindingError(
        `A positional parameter cannot be found that accepts argument '${describeValue(value)}'.`,
        'PositionalParameterNotFound',
        value.extent,
      );
    }
    bound.set(name, value);
  }

  const missing = names.filter((name) => parameters[name].mandatory && !bound.has(name));
  if (missing.length > 0) {
    throw new ParameterBindingError(
      `Cannot process command because of one or more missing mandatory parameters: ${missing.join(' ')}.`,
      'MissingMandatoryParameter',
    );
  }

  const values: Record<string, unknown> = {};
  const given: Record<string, PlainValue> = {};
  for (const [name, value] of bound) {
    given[name] = plainValue(value);
    values[name] = parameters[name].type.convert(value, name);
  }
  return { values: values as BoundParameters<S>, given };
}

/** An exact name wins; otherwise a prefix must match exactly one parameter, as in PowerShell. */
function resolveParameterName(names: string[], written: string, extent: PsValue['extent']): string {
  const lower = written.toLowerCase();
  const exact = names.find((name) => name.toLowerCase() === lower);
  if (exact) return exact;
  const matches = names.filter((name) => name.toLowerCase().startsWith(lower));
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) {
    throw new ParameterBindingError(
      `Parameter cannot be processed because the parameter name '${written}' is ambiguous. Possible matches include: ${matches.map((name) => `-${name}`).join(' ')}.`,
      'AmbiguousParameter',
      extent,
    );
  }
  throw new ParameterBindingError(
    `A parameter cannot be found that matches parameter name '${written}'.`,
    'NamedParameterNotFound',
    extent,
  );
}

/** A value as PowerShell shows it in binding messages. */
export function describeValue(value: PsValue): string {
  switch (value.kind) {
    case 'string':
      return value.value;
    case 'number':
      return String(value.value);
    case 'boolean':
      return value.value ? 'True' : 'False';
    case 'null':
      return '$null';
    case 'array':
      return 'System.Object[]';
    case 'hashtable':
      return 'System.Collections.Hashtable';
  }
}

export function nullNotAllowed(parameterName: string, value: PsValue): ParameterBindingError {
  return new ParameterBindingError(
    `Cannot bind argument to parameter '${parameterName}' because it is null.`,
    'ParameterArgumentValidationErrorNullNotAllowed',
    value.extent,
  );
}

export function cannotConvert(
  parameterName: string,
  value: PsValue,
  typeName: string,
  reason?: string,
): ParameterBindingError {
  const detail = reason ? ` Error: "${reason}"` : '';
  return new ParameterBindingError(
    `Cannot bind parameter '${parameterName}'. Cannot convert value "${describeValue(value)}" to type "${typeName}".${detail}`,
    'CannotConvertArgumentNoMessage',
    value.extent,
  );
}

export const switchParameter: ParameterType<boolean> = {
  typeName: 'SwitchParameter',
  isSwitch: true,
  convert(value, parameterName) {
    if (value.kind === 'boolean') return value.value;
    if (value.kind === 'number') return value.value !== 0;
    throw new ParameterBindingError(
      `Cannot process argument transformation on parameter '${parameterName}'. Cannot convert value "${describeValue(value)}" to type "System.Management.Automation.SwitchParameter". Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.`,
      'ParameterArgumentTransformationError',
      value.extent,
    );
  },
};

/** A single piece of text (String, Fqdn, XdsIdentity ...). Arrays and hashtables are refused, not stringified. */
export function textParameter(typeName: string): ParameterType<string> {
  return {
    typeName,
    convert(value, parameterName) {
      switch (value.kind) {
        case 'string':
          if (value.value === '') {
            throw new ParameterBindingError(
              `Cannot bind argument to parameter '${parameterName}' because it is an empty string.`,
              'ParameterArgumentValidationErrorEmptyStringNotAllowed',
              value.extent,
            );
          }
          return value.value;
        case 'number':
        case 'boolean':
          return describeValue(value);
        case 'null':
          throw nullNotAllowed(parameterName, value);
        default:
          throw new ParameterBindingError(
            `Cannot convert '${describeValue(value)}' to the type '${typeName}' required by parameter '${parameterName}'. Specified method is not supported.`,
            'CannotConvertArgument',
            value.extent,
          );
      }
    },
  };
}

/** An enumeration: the name, any case, gives the canonical spelling. */
export function enumParameter<Name extends string>(
  typeName: string,
  enumerators: readonly Name[],
): ParameterType<Name> {
  return {
    typeName,
    convert(value, parameterName) {
      if (value.kind === 'null') throw nullNotAllowed(parameterName, value);
      const text = describeValue(value);
      const match =
        value.kind === 'string' ? enumerators.find((name) => name.toLowerCase() === text.toLowerCase()) : undefined;
      if (match === undefined) {
        throw cannotConvert(
          parameterName,
          value,
          typeName,
          `Unable to match the identifier name ${text} to a valid enumerator name. Specify one of the following enumerator names and try again: ${enumerators.join(', ')}`,
        );
      }
      return match;
    },
  };
}

/** A whole number within PowerShell's ValidateRange. */
export function integerParameter(minimum: number, maximum: number): ParameterType<number> {
  return {
    typeName: 'Int32',
    convert(value, parameterName) {
      const number =
        value.kind === 'number'
          ? value.value
          : value.kind === 'string' && /^\s*[+-]?\d+\s*$/.test(value.value)
            ? Number(value.value)
            : NaN;
      if (!Number.isInteger(number))
        throw cannotConvert(parameterName, value, 'System.Int32', 'Input string was not in a correct format.');
      if (number < minimum || number > maximum) {
        throw new ParameterBindingError(
          `Cannot validate argument on parameter '${parameterName}'. The ${number} argument is ${number < minimum ? `less than the minimum allowed range of ${minimum}` : `greater than the maximum allowed range of ${maximum}`}. Supply an argument that is ${number < minimum ? `greater than or equal to ${minimum}` : `less than or equal to ${maximum}`} and then try the command again.`,
          'ParameterArgumentValidationError',
          value.extent,
        );
      }
      return number;
    },
  };
}
