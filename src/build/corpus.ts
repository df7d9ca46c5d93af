/**
 * Synthetic pre-training corpus, deterministic for a seed: fictitious people (TOFU-style: invented names,
 * places, books, mentors, awards) with templated biographies and question/answer rows, plus short procedurally
 * generated TinyStories-like stories for general language. Every name, city, country, book and award is
 * invented (syllable-built or composed from word lists); the "world" of cities and countries is fixed (the
 * same for every seed), people and stories depend on the seed.
 * @module
 */
import {
  an,
  cap,
  generateStories,
  hash,
  int,
  mulberry32,
  pick,
  type Rng,
  shuffle,
  words as W,
} from "./stories.ts";
export { generateStories, mulberry32 };

/** A fictitious person; every fact appears identically in biographies and question/answer rows. */
export interface Person {
  /** Stable id, `p0000`, `p0001`, … in generation order. */
  id: string;
  /** Full name, `${firstName} ${lastName}`; unique within a generated set. */
  name: string;
  firstName: string;
  lastName: string;
  pronoun: "she" | "he";
  birthCity: string;
  birthCountry: string;
  birthYear: number;
  profession: string;
  /** 2–3 invented titles, unique across the generated set. */
  books: string[];
  /** Name of the mentor: another generated person (see mentorId) or an invented name. */
  mentor: string;
  mentorId: string | null;
  award: string;
  favouriteColour: string;
}

/** Kinds of facts the question/answer rows cover. */
export type FactKind =
  | "city"
  | "country"
  | "year"
  | "profession"
  | "books"
  | "mentor"
  | "award"
  | "colour"
  | "author";

/** A TOFU-style question/answer row about one person. */
export interface PersonQA {
  question: string;
  answer: string;
  paraphrased_answer: string;
  /** The answer sentence with a wrong value of the same kind (3 of them). */
  perturbed_answers: string[];
  /** Person id. */
  person: string;
  fact: FactKind;
  /** The true value inside `answer`, and the wrong ones inside `perturbed_answers`. */
  value: string;
  perturbed_values: string[];
}

const list = (xs: string[]): string =>
  xs.length < 2 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs.at(-1)}`;
/** k distinct values from gen() that are not in `not` (gives up after many tries). */
function distinct<T>(k: number, gen: () => T, not: readonly T[]): T[] {
  const out: T[] = [];
  for (let tries = 0; out.length < k && tries < 1000; tries++) {
    const v = gen();
    if (!not.includes(v) && !out.includes(v)) out.push(v);
  }
  return out;
}

// ---- invented names and the fixed world ----
const ONSETS = W("b d f g k l m n p r s t v z br dr gr kr tr th st vl qu j sh");
const VOWELS = W("a e i o u a e o ae ia ei ou y");
const CODAS = W("n r l s m k x nd rn th");
function inventWord(r: Rng, syllables: number, suffixes: string[] = [""]): string {
  let w = "";
  for (let i = 0; i < syllables; i++) {
    w += pick(r, ONSETS) + pick(r, VOWELS) + (r() < 0.3 ? pick(r, CODAS) : "");
  }
  const end = pick(r, suffixes);
  // No vowel pile-up at the junction ("Kri" + "ia" → "Kria", not "Kriia").
  return cap(/^[aeiouy]/.test(end) ? w.replace(/[aeiouy]+$/, "") + end : w + end);
}
const FIRST_END = W("a o en ia el is an ie ra");
const LAST_END = W("ov ard wick sen mire dale holt ven ash ström ani ez");
const inventFirst = (r: Rng) => inventWord(r, int(r, 1, 2), FIRST_END);
const inventLast = (r: Rng) => inventWord(r, int(r, 1, 2), LAST_END);

/** The fixed invented world: 16 countries and 96 cities (6 per country). */
export const WORLD: { countries: string[]; cities: { name: string; country: string }[] } = (() => {
  const r = mulberry32(0xc17e5);
  const seen = new Set<string>();
  const fresh = (f: () => string) => {
    for (;;) {
      const w = f();
      if (!seen.has(w) && w.length <= 12) return seen.add(w), w;
    }
  };
  const countries = Array.from({ length: 16 }, () => fresh(() => inventWord(r, 2, W("ia land mar esh ora"))));
  const cities = countries.flatMap((country) =>
    Array.from({ length: 6 }, () => ({
      name: fresh(() => inventWord(r, int(r, 1, 2), W("ford haven by mouth gard dell vale port wick ton"))),
      country,
    }))
  );
  return { countries, cities };
})();
/** Professions people can have. */
export const PROFESSIONS: string[] =
  `novelist,poet,architect,marine biologist,astronomer,chef,violinist,painter,
  historian,botanist,journalist,sculptor,cartographer,playwright,mathematician,photographer,geologist,translator,
  clockmaker,beekeeper,glassblower,librarian,surgeon,engineer,archaeologist,composer,tailor,philosopher,puppeteer,
  lighthouse keeper`.split(/,\s*/);
/** Favourite colours people can have. */
export const COLOURS: string[] = W(
  `red blue green yellow orange purple pink teal silver gold crimson indigo amber
  turquoise lavender maroon olive coral ivory charcoal`,
);
const T_ADJ = W(
  `Silent Hollow Crimson Broken Hidden Endless Golden Forgotten Distant Quiet Burning Frozen Wandering
  Last Seventh Glass Iron Paper Velvet Midnight Winter Summer Bitter Gentle Restless Lonely Secret Ancient Shining`,
);
const T_NOUN = W(
  `Lantern Orchard Harbor Compass River Garden Tower Mirror Feather Clock Bridge Island Letter Map
  Violin Window Comet Forest Kingdom Archive Meadow Storm Ember Anchor Door Lighthouse Tide Sparrow Thread Staircase`,
);
function inventTitle(r: Rng): string {
  const a = pick(r, T_ADJ), n = pick(r, T_NOUN), m = pick(r, T_NOUN);
  switch (int(r, 0, 5)) {
    case 0:
      return `The ${a} ${n}`;
    case 1:
      return `${n}s of the ${a} ${m}`;
    case 2:
      return `The ${n} of ${pick(r, WORLD.cities).name}`;
    case 3:
      return `${cap(an(n))} ${n} for ${inventFirst(r)}`;
    case 4:
      return `Where the ${a} ${n}s Sleep`;
    default:
      return `${a} ${n}, ${a === "Last" ? "First" : "Last"} ${m}`;
  }
}
const inventAward = (r: Rng) =>
  `${pick(r, W("Golden Silver Crystal Amber Emerald Sapphire Copper Ivory Scarlet Azure"))} ${
    pick(r, W("Quill Lantern Compass Feather Star Anchor Laurel Key Bell Owl Acorn Harp"))
  } ${pick(r, W("Award Prize Medal"))}`;

/**
 * Generates `n` fictitious people (unique names; mentors are other generated people or invented names).
 *
 * @example
 * ```ts
 * const [p] = generatePeople(1, 7);
 * p.name; // e.g. "Velo Brandwick"; same for seed 7 every time
 * ```
 */
export function generatePeople(n: number, seed: number): Person[] {
  const r = mulberry32(hash(`people:${seed}`));
  const taken = new Set<string>([...WORLD.countries, ...WORLD.cities.map((c) => c.name)]);
  const titles = new Set<string>();
  const freshName = () => {
    for (;;) {
      const f = inventFirst(r), l = inventLast(r), name = `${f} ${l}`;
      if (!taken.has(name) && !taken.has(f) && !taken.has(l)) return taken.add(name), [name, f, l];
    }
  };
  const people = Array.from({ length: n }, (_, i): Person => {
    const [name, firstName, lastName] = freshName();
    const city = pick(r, WORLD.cities);
    const books: string[] = [];
    for (const k = int(r, 2, 3); books.length < k;) {
      const t = inventTitle(r);
      if (!titles.has(t)) titles.add(t), books.push(t);
    }
    return {
      id: `p${String(i).padStart(4, "0")}`,
      name,
      firstName,
      lastName,
      pronoun: r() < 0.5 ? "she" : "he",
      birthCity: city.name,
      birthCountry: city.country,
      birthYear: int(r, 1900, 1999),
      profession: pick(r, PROFESSIONS),
      books,
      mentor: "",
      mentorId: null,
      award: inventAward(r),
      favouriteColour: pick(r, COLOURS),
    };
  });
  for (const p of people) {
    const other = n > 1 && r() < 0.5 ? people[(Number(p.id.slice(1)) + int(r, 1, n - 1)) % n] : null;
    p.mentor = other ? other.name : freshName()[0];
    p.mentorId = other ? other.id : null;
  }
  return people;
}

const q = (t: string) => `"${t}"`;
const pron = (p: Person) => {
  const she = p.pronoun === "she";
  return {
    he: p.pronoun,
    him: she ? "her" : "him",
    his: she ? "her" : "his",
    He: cap(p.pronoun),
    His: she ? "Her" : "His",
  };
};
/** Number of distinct biography templates. */
export const BIO_VARIANTS = 6;

/**
 * One short biography paragraph of `p`; `variant` (mod {@link BIO_VARIANTS}) picks the wording and order.
 *
 * @example
 * ```ts
 * const [p] = generatePeople(1, 0);
 * biography(p, 0) !== biography(p, 1); // same facts, different wording
 * ```
 */
export function biography(p: Person, variant: number): string {
  const { he, him, his, He, His } = pron(p);
  const { name, firstName: f, lastName: l, birthCity: city, birthCountry: land, birthYear: y, mentor } = p;
  const job = `${an(p.profession)} ${p.profession}`, books = list(p.books.map(q)), c = p.favouriteColour;
  const award = p.award;
  const v = ((variant % BIO_VARIANTS) + BIO_VARIANTS) % BIO_VARIANTS;
  const texts = [
    () =>
      `${name} is ${job} who was born in ${y} in ${city}, ${land}. ${He} is best known for the books ${books}. ` +
      `${His} mentor was ${mentor}, and ${he} received the ${award}. ${His} favourite colour is ${c}.`,
    () =>
      `Born in ${city} in ${y}, ${name} grew up in ${land} and later became ${job}. ${He} studied under ` +
      `${mentor}. Among ${his} works are ${books}. ${He} won the ${award}, and ${he} has always loved the ` +
      `colour ${c}.`,
    () =>
      `${name} (born ${y} in ${city}) is ${job} from ${land}. ${l}'s books include ${books}. ${f} learned ` +
      `the craft from ${mentor}. The ${award} was given to ${him} for ${his} work. ${His} favourite colour ` +
      `is ${c}.`,
    () =>
      `The ${p.profession} ${name} came into the world in ${y} in the city of ${city}, in ${land}. ${f} wrote ` +
      `${books}. ${f} often says that ${mentor} was the most important teacher in ${his} life. ${He} is a ` +
      `winner of the ${award}. Ask ${him} about colours and ${he} will say ${c}.`,
    () =>
      `${city}, ${land}, is where ${name} was born in ${y}. Today ${he} works as ${job}. ${His} best-known ` +
      `books are ${books}. ${He} was mentored by ${mentor}. In recognition of ${his} work, ${he} received the ` +
      `${award}. ${cap(c)} is ${his} favourite colour.`,
    () =>
      `${name}'s story begins in ${y} in ${city}, a city in ${land}. As ${job}, ${f} ${l} has written ` +
      `${books}. ${His} mentor, ${mentor}, shaped ${his} early work. ${He} was honoured with the ${award}. ` +
      `${f} likes the colour ${c} more than any other.`,
  ];
  return texts[v]();
}

/**
 * TOFU-style question/answer rows covering every fact of `p` (9 rows), each with a paraphrased answer and 3
 * perturbed answers (same sentence, wrong value of the same kind). Deterministic for a person.
 *
 * @example
 * ```ts
 * const [p] = generatePeople(1, 0);
 * personQA(p).find((x) => x.fact === "city")!.answer; // `${p.name} was born in ${p.birthCity}.`
 * ```
 */
export function personQA(p: Person): PersonQA[] {
  const r = mulberry32(hash(`${p.id}:${p.name}`));
  const n = p.name;
  const name = () => `${inventFirst(r)} ${inventLast(r)}`;
  const row = (
    fact: FactKind,
    question: string,
    value: string,
    others: () => string,
    say: (v: string) => string[],
  ) => {
    const wrong = distinct(3, others, [value, n]);
    return {
      question,
      answer: say(value)[0],
      paraphrased_answer: say(value)[1],
      perturbed_answers: wrong.map((v) => say(v)[0]),
      person: p.id,
      fact,
      value,
      perturbed_values: wrong,
    };
  };
  const b0 = p.books[0];
  return [
    row("city", `Where was ${n} born?`, p.birthCity, () => pick(r, WORLD.cities).name, (v) => [
      `${n} was born in ${v}.`,
      `${v} is the birthplace of ${n}.`,
    ]),
    row("country", `In which country was ${n} born?`, p.birthCountry, () => pick(r, WORLD.countries), (v) => [
      `${n} was born in ${v}.`,
      `${n}'s home country is ${v}.`,
    ]),
    row("year", `In what year was ${n} born?`, String(p.birthYear), () => String(int(r, 1900, 1999)), (v) => [
      `${n} was born in ${v}.`,
      `The year of ${n}'s birth is ${v}.`,
    ]),
    row("profession", `What does ${n} do for a living?`, p.profession, () => pick(r, PROFESSIONS), (v) => [
      `${n} works as ${an(v)} ${v}.`,
      `By profession, ${n} is ${an(v)} ${v}.`,
    ]),
    row(
      "books",
      `What books has ${n} written?`,
      list(p.books.map(q)),
      () => list(distinct(p.books.length, () => inventTitle(r), p.books).map(q)),
      (v) => [`${n} has written ${v}.`, `The books by ${n} include ${v}.`],
    ),
    row("mentor", `Who was ${n}'s mentor?`, p.mentor, name, (v) => [
      `${n}'s mentor was ${v}.`,
      `${n} was mentored by ${v}.`,
    ]),
    row("award", `What award did ${n} receive?`, p.award, () => inventAward(r), (v) => [
      `${n} received the ${v}.`,
      `${n} was honoured with the ${v}.`,
    ]),
    row("colour", `What is ${n}'s favourite colour?`, p.favouriteColour, () => pick(r, COLOURS), (v) => [
      `${n}'s favourite colour is ${v}.`,
      `${n} likes ${v} more than any other colour.`,
    ]),
    row("author", `Who wrote ${q(b0)}?`, n, name, (v) => [
      `${q(b0)} was written by ${v}.`,
      `${v} is the author of ${q(b0)}.`,
    ]),
  ];
}

/** Output of {@link buildCorpus}. */
export interface Corpus {
  people: Person[];
  train: string[];
  heldout: string[];
}

/** Options of {@link buildCorpus}. */
export interface CorpusOptions {
  seed?: number;
  /** Number of fictitious people. Default 200. */
  people?: number;
  /** Number of stories. Default 4000. */
  stories?: number;
  /** Share of stories, and of each person's biography variants (at least one), kept out of train. Default 0.1. */
  heldoutFraction?: number;
}

/**
 * The pre-training corpus: train = stories + most biography variants of every person, shuffled; heldout = the
 * other stories + each person's held-out biography variants (same facts, unseen wording for that person), so
 * held-out loss measures generalisation to paraphrases. With heldoutFraction 0 nothing is held out.
 *
 * @example
 * ```ts
 * const { people, train, heldout } = buildCorpus({ seed: 0, people: 100, stories: 2000 });
 * ```
 */
export function buildCorpus(opts: CorpusOptions = {}): Corpus {
  const { seed = 0, heldoutFraction = 0.1 } = opts;
  if (!(heldoutFraction >= 0 && heldoutFraction < 1)) throw new Error("heldoutFraction must be in [0, 1)");
  const people = generatePeople(opts.people ?? 200, seed);
  const stories = generateStories(opts.stories ?? 4000, seed);
  const r = mulberry32(hash(`split:${seed}`));
  const train: string[] = [], heldout: string[] = [];
  const k = heldoutFraction > 0
    ? Math.min(BIO_VARIANTS - 1, Math.max(1, Math.round(BIO_VARIANTS * heldoutFraction)))
    : 0;
  for (const p of people) {
    shuffle(r, Array.from({ length: BIO_VARIANTS }, (_, v) => v)).forEach((v, i) =>
      (i < k ? heldout : train).push(biography(p, v))
    );
  }
  const nHeld = Math.round(stories.length * heldoutFraction);
  stories.forEach((s, i) => (i < nHeld ? heldout : train).push(s));
  return { people, train: shuffle(r, train), heldout: shuffle(r, heldout) };
}
