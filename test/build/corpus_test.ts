/** Synthetic corpus (src/build/corpus.ts, src/build/stories.ts): determinism, fact consistency, QA rows, stories. */
import assert from "node:assert/strict";
import {
  BIO_VARIANTS,
  biography,
  buildCorpus,
  COLOURS,
  type FactKind,
  generatePeople,
  generateStories,
  type Person,
  personQA,
  PROFESSIONS,
  WORLD,
} from "../../src/build/corpus.ts";

const people = generatePeople(300, 0);
/** Sentence ends: . ! ? (optionally closing a quote) before a capital/quote or the end of the text. */
const sentences = (s: string) => s.match(/[.!?]"?(?=\s+["A-Z]|\s*$)/g)?.length ?? 0;
const distinctWords = (texts: string[]) => new Set(texts.join(" ").toLowerCase().match(/\p{L}+/gu)).size;

Deno.test("same seed gives identical output, a different seed a different one", () => {
  const a = buildCorpus({ seed: 3, people: 40, stories: 100 });
  assert.deepEqual(buildCorpus({ seed: 3, people: 40, stories: 100 }), a);
  const b = buildCorpus({ seed: 4, people: 40, stories: 100 });
  assert.notDeepEqual(b.people.map((p) => p.name), a.people.map((p) => p.name));
  assert.notDeepEqual(b.train, a.train);
  assert.deepEqual(generateStories(20, 9), generateStories(20, 9));
  assert.notDeepEqual(generateStories(20, 9), generateStories(20, 10));
  assert.deepEqual(personQA(a.people[0]), personQA(structuredClone(a.people[0])));
});

Deno.test("people: unique invented names, valid fields, mentors consistent", () => {
  const many = generatePeople(2000, 1);
  const names = new Set(many.map((p) => p.name));
  assert.equal(names.size, many.length);
  const places = new Set([...WORLD.countries, ...WORLD.cities.map((c) => c.name)]);
  assert.equal(places.size, 16 + 96);
  const titles = many.flatMap((p) => p.books);
  assert.equal(new Set(titles).size, titles.length, "book titles are unique");
  let linked = 0;
  for (const p of many) {
    assert.match(p.name, /^[A-Z][a-zö]+ [A-Z][a-zö]+$/);
    assert.equal(p.name, `${p.firstName} ${p.lastName}`);
    assert.ok(!places.has(p.firstName) && !places.has(p.lastName));
    assert.equal(WORLD.cities.find((c) => c.name === p.birthCity)?.country, p.birthCountry);
    assert.ok(p.birthYear >= 1900 && p.birthYear <= 1999);
    assert.ok(PROFESSIONS.includes(p.profession) && COLOURS.includes(p.favouriteColour));
    assert.ok(p.books.length >= 2 && p.books.length <= 3);
    if (p.mentorId) {
      linked++;
      assert.notEqual(p.mentorId, p.id);
      assert.equal(many.find((o) => o.id === p.mentorId)?.name, p.mentor);
    } else assert.ok(!names.has(p.mentor), "invented mentors are not generated people");
    assert.notEqual(p.mentor, p.name);
  }
  assert.ok(linked > 700 && linked < 1300, `about half the mentors are generated people (${linked})`);
  assert.equal(PROFESSIONS.length, 30);
});

/** The facts of p as (kind, value) pairs, books one by one. */
function facts(p: Person): [string, string][] {
  return [
    ["name", p.name],
    ["city", p.birthCity],
    ["country", p.birthCountry],
    ["year", String(p.birthYear)],
    ["profession", p.profession],
    ["mentor", p.mentor],
    ["award", p.award],
    ["colour", p.favouriteColour],
    ...p.books.map((b): [string, string] => ["book", `"${b}"`]),
  ];
}

Deno.test("biographies: ≥ 4 distinct paraphrases, each stating every fact", () => {
  assert.ok(BIO_VARIANTS >= 4);
  for (const p of people) {
    const bios = Array.from({ length: BIO_VARIANTS }, (_, v) => biography(p, v));
    assert.equal(new Set(bios).size, BIO_VARIANTS);
    assert.equal(biography(p, BIO_VARIANTS + 1), bios[1]);
    for (const bio of bios) {
      for (const [kind, value] of facts(p)) {
        assert.ok(bio.toLowerCase().includes(value.toLowerCase()), `${kind} ${value} missing in: ${bio}`);
      }
      assert.ok(!/undefined|NaN|\$\{/.test(bio));
    }
  }
});

Deno.test("QA rows: every fact covered and consistent with the biographies", () => {
  const kinds: FactKind[] = [
    "city",
    "country",
    "year",
    "profession",
    "books",
    "mentor",
    "award",
    "colour",
    "author",
  ];
  for (const p of people) {
    const qa = personQA(p);
    assert.ok(qa.length >= 8);
    assert.deepEqual(qa.map((x) => x.fact).sort(), [...kinds].sort());
    const truth: Record<FactKind, string> = {
      city: p.birthCity,
      country: p.birthCountry,
      year: String(p.birthYear),
      profession: p.profession,
      books: p.books.length === 2
        ? `"${p.books[0]}" and "${p.books[1]}"`
        : `"${p.books[0]}", "${p.books[1]}" and "${p.books[2]}"`,
      mentor: p.mentor,
      award: p.award,
      colour: p.favouriteColour,
      author: p.name,
    };
    const bio = biography(p, 0);
    for (const row of qa) {
      assert.equal(row.person, p.id);
      assert.equal(row.value, truth[row.fact], row.fact);
      assert.ok(row.question.length > 0 && row.question.endsWith("?"));
      assert.ok(row.answer.includes(row.value) && row.paraphrased_answer.includes(row.value));
      assert.ok(row.answer.includes(p.name) || row.question.includes(p.name));
      assert.notEqual(row.paraphrased_answer, row.answer);
      if (row.fact !== "books") {
        assert.ok(bio.includes(row.value) || bio.includes(row.value.replace(/^./, (c) => c.toUpperCase())));
      }
    }
  }
});

Deno.test("perturbed answers: 3 wrong values of the same kind, same sentence", () => {
  const cities = WORLD.cities.map((c) => c.name);
  const isName = (v: string) => /^[A-Z][a-zö]+ [A-Z][a-zö]+$/.test(v);
  const sameKind: Record<FactKind, (v: string, p: Person) => boolean> = {
    city: (v) => cities.includes(v),
    country: (v) => WORLD.countries.includes(v),
    year: (v) => /^19\d\d$/.test(v),
    profession: (v) => PROFESSIONS.includes(v),
    books: (v, p) =>
      (v.match(/"[^"]+"/g) ?? []).length === p.books.length && p.books.every((b) => !v.includes(b)),
    mentor: isName,
    award: (v) => /^[A-Z][a-z]+ [A-Z][a-z]+ (Award|Prize|Medal)$/.test(v),
    colour: (v) => COLOURS.includes(v),
    author: isName,
  };
  for (const p of people) {
    for (const row of personQA(p)) {
      assert.equal(row.perturbed_answers.length, 3);
      assert.equal(new Set(row.perturbed_values).size, 3);
      row.perturbed_values.forEach((v, i) => {
        assert.notEqual(v, row.value);
        assert.ok(sameKind[row.fact](v, p), `${row.fact}: ${v}`);
        assert.ok(sameKind[row.fact](row.value, p) || row.fact === "books", `${row.fact}: ${row.value}`);
        const noArticle = (t: string) => t.replace(/\b(a|an) /g, "");
        assert.equal(noArticle(row.perturbed_answers[i]), noArticle(row.answer.replace(row.value, v)));
        assert.notEqual(row.perturbed_answers[i], row.answer);
      });
      if (row.fact === "author") assert.ok(!row.perturbed_values.includes(p.name));
    }
  }
});

Deno.test("stories: 5–10 sentences, ≥ 1,500 distinct words over 2,000 stories", () => {
  const stories = generateStories(2000, 0);
  for (const s of stories) {
    const n = sentences(s);
    assert.ok(n >= 5 && n <= 10, `${n} sentences: ${s}`);
    assert.ok(!/undefined|NaN|\$\{|\ba [aeio]/.test(s), s);
  }
  assert.ok(new Set(stories).size === stories.length);
  const distinct = distinctWords(stories);
  assert.ok(distinct >= 1500, `${distinct} distinct words`);
});

Deno.test("buildCorpus: held-out biographies are unseen paraphrases, stories split by fraction", () => {
  const c = buildCorpus({ seed: 5, people: 50, stories: 400, heldoutFraction: 0.2 });
  const train = new Set(c.train);
  assert.ok(c.heldout.every((t) => !train.has(t)));
  const held = new Set(c.heldout);
  for (const p of c.people) {
    const bios = Array.from({ length: BIO_VARIANTS }, (_, v) => biography(p, v));
    assert.equal(bios.filter((b) => held.has(b)).length, 1, `${p.name}: one held-out paraphrase`);
    assert.equal(bios.filter((b) => train.has(b)).length, BIO_VARIANTS - 1);
  }
  assert.equal(c.train.length + c.heldout.length, 50 * BIO_VARIANTS + 400);
  assert.equal(c.heldout.length, 50 + 80);
  const none = buildCorpus({ seed: 5, people: 10, stories: 20, heldoutFraction: 0 });
  assert.equal(none.heldout.length, 0);
  assert.equal(none.train.length, 10 * BIO_VARIANTS + 20);
  assert.throws(() => buildCorpus({ heldoutFraction: 1 }));
});

Deno.test("corpus statistics (printed)", () => {
  const c = buildCorpus({ seed: 0 });
  const mb = (xs: string[]) => (new TextEncoder().encode(xs.join("\n")).length / 1e6).toFixed(2);
  const stories = generateStories(2000, 0);
  console.log(
    `default corpus: ${c.people.length} people, ${c.train.length} train / ${c.heldout.length} held-out texts, ` +
      `${mb(c.train)} MB train + ${mb(c.heldout)} MB held-out, ${
        distinctWords([...c.train, ...c.heldout])
      } ` +
      `distinct words; 2,000 stories: ${distinctWords(stories)} distinct words`,
  );
});
