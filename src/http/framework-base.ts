// Express swaps the prototype of every request and response (Object.setPrototypeOf(req,
// app.request)), and V8 gives an object that went through setPrototypeOf a fresh hidden class
// at each later property it adds: a copy of the whole descriptor array, microseconds and
// garbage per property per request. What the adapters would add to every request or response
// is therefore put once on the framework's base object instead: the object right above the
// Node class's own prototype (express's `request` and `response`, which every app and sub-app
// inherits from), so that each request passes through it whichever app handles it.

/** Per prototype seen: the framework base above the Node class, or null when not swapped. */
const bases = new WeakMap<object, object | null>();

/**
 * The framework base of `target` (an IncomingMessage or a ServerResponse whose prototype a
 * framework swapped), or undefined when its prototype is the class's own (plain node:http,
 * Connect): adding own properties is cheap there, its hidden classes are shared.
 */
export function frameworkBase(target: object): object | undefined {
  const proto = Object.getPrototypeOf(target) as object;
  let base = bases.get(proto);
  if (base === undefined) {
    base = findBase(target, proto);
    bases.set(proto, base);
  }
  return base ?? undefined;
}

function findBase(target: object, proto: object): object | null {
  const classProto = (target.constructor as { prototype?: unknown } | undefined)?.prototype;
  if (classProto === proto || typeof classProto !== 'object' || classProto === null) return null;
  let base: object | null = proto;
  while (base !== null && Object.getPrototypeOf(base) !== classProto)
    base = Object.getPrototypeOf(base) as object | null;
  return base;
}
