import { type Field, readField, readName, Scanner, splitTopLevel } from './scanner.ts';

/** The `order` parameter: `order=a.desc.nullslast,b,rel(c).asc`. */

export interface OrderTerm {
  field: Field;
  /** `rel(col)` ordering on a to-one embedded resource. */
  relation?: string;
  dir?: 'asc' | 'desc';
  nulls?: 'first' | 'last';
}

export function parseOrder(text: string): OrderTerm[] {
  return splitTopLevel(text).map((part) => {
    const s = new Scanner(part, `order (${text})`);
    let field = readField(s);
    let relation: string | undefined;
    if (s.eat('(')) {
      relation = field.name;
      field = readField(s);
      s.expect(')');
    }
    const term: OrderTerm = { field, relation };
    while (s.eat('.')) {
      const word = readName(s);
      if (word === 'asc' || word === 'desc') term.dir = word;
      else if (word === 'nullsfirst') term.nulls = 'first';
      else if (word === 'nullslast') term.nulls = 'last';
      else s.fail('asc, desc, nullsfirst or nullslast');
    }
    if (!s.done) s.fail('"." or ","');
    return term;
  });
}
