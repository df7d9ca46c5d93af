/**
 * Procedurally generated TinyStories-like stories (5–10 sentences: characters, places, objects, a small
 * problem and its resolution) drawn from ~1,600 everyday words, plus the seeded PRNG helpers that the corpus
 * generator shares. Deterministic for a seed.
 * @module
 */

/**
 * mulberry32: a tiny seeded PRNG, uniform in [0, 1).
 *
 * @example
 * ```ts
 * const r = mulberry32(42);
 * r(); // the same sequence for the same seed
 * ```
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;
/** Uniform element of `a`. @example pick(mulberry32(1), ["x", "y"]) */
export const pick = <T>(r: Rng, a: readonly T[]): T => a[Math.floor(r() * a.length)];
/** Uniform integer in [lo, hi]. @example int(mulberry32(1), 1, 6) */
export const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
/** In-place Fisher–Yates shuffle; returns `a`. @example shuffle(mulberry32(1), [1, 2, 3]) */
export function shuffle<T>(r: Rng, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
/** 32-bit FNV-1a hash of a string (to derive seeds). @example mulberry32(hash("people:0")) */
export function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
/** Whitespace-separated words. @example words("a b") // ["a", "b"] */
export const words = (s: string): string[] => s.trim().split(/\s+/);
/** Capitalises the first letter. @example cap("fox") // "Fox" */
export const cap = (s: string): string => s[0].toUpperCase() + s.slice(1);
/** "a" or "an" for a word. @example an("owl") // "an" */
export const an = (w: string): string =>
  /^(hour|honest)/i.test(w) || (/^[aeiou]/i.test(w) && !/^(uni|use|eu|one)/i.test(w)) ? "an" : "a";

/** Word lists, `name: words…` sections. */
const L: Record<string, string[]> = Object.fromEntries(
  `girls: Lily Mia Emma Ava Zoe Ella Lucy Rosa Nina Ivy Ruby Daisy Hannah Sara Maya Clara Anna Lena Nora Iris Alice
  Julia Eva Molly Sophie Chloe Amy Kate Jenny Tara Bella Hazel Poppy Wendy Fiona Greta Heidi Lola Mira Nell Sadie
  Tess Una Vera Willa Yara Elsie Freya Gemma Kira
boys: Tom Ben Max Sam Leo Jack Finn Owen Noah Luke Adam Eli Hugo Jake Kai Liam Milo Nate Oscar Paul Ravi Sean Theo
  Victor Zack Felix Gus Henry Ivan Jonah Kevin Louis Marco Ned Omar Pete Simon Toby Uri Vince Wes Arlo Bruno Caleb
  Dylan Ezra George Ollie Rory Timo
animals: rabbit bunny fox bear cat dog puppy kitten mouse owl duck frog turtle squirrel deer hedgehog badger otter
  beaver raccoon lion tiger elephant giraffe zebra monkey panda koala kangaroo penguin seal whale dolphin octopus
  crab goldfish shark parrot robin sparrow crow eagle hawk swan goose chicken hen rooster pig cow horse pony donkey
  goat sheep lamb camel hippo rhino crocodile snake lizard bee butterfly ladybug ant spider snail worm caterpillar
  dragonfly firefly bat mole wolf moose llama peacock flamingo pelican hamster unicorn
roles: girl boy baker farmer fisherman knight princess prince queen king wizard witch pirate sailor teacher doctor
  nurse gardener shepherd miner builder clown dancer singer drummer pilot astronaut explorer inventor cook mailman
  firefighter ranger scientist potter weaver giant dragon robot fairy elf
places: park forest beach castle garden kitchen village town city farm meadow field valley mountain hill cave river
  lake pond island jungle desert swamp harbor market library school museum zoo bakery playground backyard attic
  basement barn orchard vineyard lighthouse tower bridge road tunnel station airport circus carnival fair palace
  cottage cabin tent treehouse greenhouse workshop shop bookstore theater stadium hospital classroom bedroom
  hallway porch balcony rooftop volcano glacier canyon reef waterfall
nature: flower rock stone cloud star moon rainbow leaf branch log stick shell pebble grass bush vine mushroom acorn
  pinecone feather nest puddle wave stream hole seed root blossom petal thorn berry weed fern moss tulip rose
  sunflower clover dandelion snowflake icicle
tall: tree oak willow pine maple bamboo cactus hedge tower pole wall
objects: ball kite hat box key book map lamp lantern bell drum whistle flute violin guitar piano trumpet basket
  bucket shovel rope ladder boat bicycle wagon sled umbrella blanket pillow doll puppet crayon pencil brush paper
  letter envelope stamp coin button marble jar bottle cup plate bowl spoon fork kettle teapot clock watch ring
  necklace bracelet crown sword shield wand broom mirror candle torch compass telescope camera radio ticket balloon
  ribbon scarf mitten glove sock boot shoe jacket coat sweater cape mask backpack suitcase wallet purse bag sack net
  hammer nail saw scissors needle yarn quilt rug chair table bed door window gate wheel train truck car bus rocket
  airplane helicopter submarine puzzle block toy trophy medal flag globe chest gem crystal tray napkin pot pan stool
  shelf cushion notebook sticker magnet
foods: apple banana cherry grape orange pear peach plum lemon melon strawberry blueberry raspberry carrot potato
  tomato pumpkin bean cabbage onion cucumber cake cookie muffin pie pancake waffle sandwich noodle pizza cracker
  biscuit cupcake donut pretzel candy lollipop nut peanut almond walnut egg dumpling taco sausage meatball pickle
  radish turnip mango kiwi coconut pineapple apricot fig olive
uncount: honey jam chocolate popcorn rice pasta cheese butter porridge cereal yogurt bread soup
drinks: milk juice tea cocoa lemonade water
adj: big small little tiny huge tall short long round square flat soft hard smooth rough fluffy fuzzy furry shiny
  sparkly bright dark pale colorful striped spotted wooden golden silver old new young ancient strange funny silly
  odd magic magical secret hidden lost broken empty full heavy light warm cold hot cool wet dry sticky muddy dusty
  clean dirty messy neat pretty beautiful lovely plain fancy simple noisy quiet loud gentle sharp sweet sour salty
  spicy crunchy juicy tasty fresh ripe wild busy lazy sleepy hungry thirsty tired strong fast slow quick clever wise
  kind friendly grumpy bold rich lucky cozy wobbly squeaky creaky bumpy slippery fragile sturdy enormous delicate
  precious rare famous ordinary peculiar mysterious enchanted glowing twinkling dazzling gleaming faded crooked
  tangled hollow narrow wide deep shallow steep distant purple red blue green yellow pink brown gray white black
  chubby skinny speedy tidy polite cheeky giggly bouncy prickly slimy velvety
good: happy glad proud calm excited cheerful grateful hopeful joyful relieved amazed delighted thankful peaceful
  thrilled content brave safe loved
bad: sad angry scared afraid nervous worried lonely upset gloomy puzzled confused embarrassed bored frightened
  anxious impatient jealous ashamed sorry grumpy
move: run:ran walk hop:hopped skip:skipped jump climb swim:swam fly:flew crawl dash race hurry march tiptoe wander
  stroll slide:slid roll dance float drift zoom rush sprint paddle gallop waddle scurry leap:leapt stomp trot:trotted
  glide ride:rode sail creep:crept jog:jogged wiggle tumble bounce scramble
act: find:found pick hold:held carry throw:threw catch:caught kick push pull lift drop:dropped open close fix
  build:built paint draw:drew bake wash clean hide:hid share give:gave bring:brought take:took make:made mend
  sew:sewed plant dig:dug fill tie wrap:wrapped polish shake:shook hug:hugged squeeze grab:grabbed toss stack count
  read:read chase follow borrow trade sell:sold buy:bought fold cut:cut bury decorate collect lose:lost guard tickle
  juggle balance sort measure weigh scrub:scrubbed spin:spun carve
speech: said asked shouted whispered cried called replied yelled sighed exclaimed answered grumbled muttered
adverbs: quickly slowly quietly loudly happily sadly gently carefully softly bravely eagerly proudly calmly kindly
  sleepily secretly patiently nervously cheerfully curiously politely boldly swiftly lazily noisily playfully wisely
  gracefully clumsily merrily busily shyly warmly brightly tightly joyfully anxiously silently neatly firmly hastily
times: morning afternoon evening night dawn sunrise sunset noon midnight winter spring summer autumn weekend
  birthday holiday Monday Tuesday Wednesday Thursday Friday Saturday Sunday
weather: rain snow wind storm thunder fog mist hail drizzle sunshine breeze frost heatwave gust shower
activities: painting singing dancing swimming reading drawing baking cooking climbing running jumping fishing sailing
  gardening knitting skating skiing sledding hiking camping exploring building counting writing drumming whistling
  juggling skipping riding dreaming laughing playing hiding collecting digging planting watching listening sewing
  rowing surfing stargazing rhyming
sounds: buzz splash bang boom crash pop thud whoosh creak squeak ding honk moo quack woof meow tweet hiss roar
numbers: two three four five six seven eight nine ten eleven twelve
bodySg: nose tail tummy beak head mane
bodyPl: ears eyes paws wings feet hands whiskers teeth knees toes cheeks spots
family: mom dad grandma grandpa sister brother aunt uncle cousin neighbor friends classmates
preps: under behind beside inside near below above
tools: ladder rope net stick broom hook shovel magnet`.split(/\n(?=\w+:)/).map((sec) => {
    const i = sec.indexOf(":");
    return [sec.slice(0, i), words(sec.slice(i + 1))];
  }),
);
const MORALS =
  `that sharing makes everyone happy|that friends help each other|to always tell the truth|that it is good
  to be kind|that being brave does not mean never being scared|to listen to others|that patience brings rewards|that
  small things matter|to never give up|to say sorry after a mistake|to take care of nature|that trying new things can
  be fun|that everyone is special in their own way|to tidy up after playing|that helping others feels good|to ask for
  help when it is needed|that laughter makes hard days easier|that hard work pays off|to be thankful for what you
  have|that a true friend stays beside you|that curiosity leads to wonderful discoveries|to think before acting|that
  a kind word can brighten any day|to respect every creature, big or small`.replace(/\s+/g, " ").split("|");
const GREET = ["Hello", "Hi there", "Good morning", "Look at this", "Wow", "Oh no", "Hooray", "Excuse me"];
const PROBLEMS = [
  "broken",
  "stuck",
  "too heavy",
  "too high",
  "covered in mud",
  "soaking wet",
  "locked",
  "torn",
];

/** Verbs as `base` or `base:past` (regular pasts derived). */
const verbs = (ws: string[]) =>
  ws.map((v) => {
    const [b, p] = v.split(":");
    return {
      b,
      p: p ?? (b.endsWith("e") ? b + "d" : /[^aeiou]y$/.test(b) ? b.slice(0, -1) + "ied" : b + "ed"),
    };
  });
const MOVE = verbs(L.move), ACT = verbs(L.act);
const IRREGULAR: Record<string, string> = {
  mouse: "mice",
  goose: "geese",
  sheep: "sheep",
  deer: "deer",
  moose: "moose",
  wolf: "wolves",
  leaf: "leaves",
  scarf: "scarves",
  elf: "elves",
  shelf: "shelves",
  potato: "potatoes",
  tomato: "tomatoes",
  goldfish: "goldfish",
  cactus: "cacti",
};
const plural = (w: string): string =>
  IRREGULAR[w] ??
    (w.endsWith("man")
      ? w.slice(0, -3) + "men"
      : /(s|x|z|ch|sh)$/.test(w)
      ? w + "es"
      : /[^aeiou]y$/.test(w)
      ? w.slice(0, -1) + "ies"
      : w + "s");

/** One story: intro, trouble, problem, fix, ending, plus optional sentences up to 5–10 sentences in all. */
function story(r: Rng): string {
  const P = <T>(a: readonly T[]) => pick(r, a);
  const a = (w: string) => `${an(w)} ${w}`;
  const hero = () => {
    const girl = r() < 0.5;
    return { n: P(girl ? L.girls : L.boys), k: P(r() < 0.6 ? L.animals : L.roles), he: girl ? "she" : "he" };
  };
  const H = hero();
  let F = hero();
  while (F.n === H.n) F = hero();
  const { he, n: Hn } = H, his = he === "she" ? "her" : "his", him = he === "she" ? "her" : "him";
  const obj = P(L.objects), place = P(L.places), place2 = P(L.places);
  const adj = () => a(P(L.adj));
  const food = () => r() < 0.3 ? P(L.uncount) : plural(P(L.foods));
  const noun = () => plural(P([L.animals, L.nature, L.objects, L.foods][int(r, 0, 3)]));
  const intro = P([
    () => `Once upon a time, there was ${adj()} ${H.k} named ${Hn}.`,
    () => `One ${P(L.adj)} ${P(L.times)}, ${Hn} the ${H.k} woke up feeling ${P(L.good)}.`,
    () => `In ${adj()} ${place} far away, there lived ${a(H.k)} called ${Hn}.`,
    () => `${Hn} was ${a(H.k)} who loved ${P(L.activities)} more than anything.`,
    () => `There once was ${a(H.k)} named ${Hn} who had ${adj()} ${obj}.`,
  ])();
  // [sentence count, template]
  const optional: [number, () => string][] = [
    [1, () => `${cap(he)} lived in ${adj()} ${P(L.places)} near the ${P(L.nature)}.`],
    [1, () => `Every ${P(L.times)}, ${he} liked to eat ${food()} with ${his} ${P(L.family)}.`],
    [1, () => `${Hn} had ${P(L.numbers)} ${noun()} and ${adj()} ${P(L.bodySg)}.`],
    [1, () => `${cap(his)} ${P(L.bodyPl)} were ${P(L.adj)}, and ${his} ${P(L.bodySg)} was ${P(L.adj)}.`],
    [1, () => `${cap(he)} drank ${P(L.drinks)} from ${adj()} ${P(["cup", "mug", "bottle", "glass"])}.`],
    [1, () => `${Hn}'s favorite thing was ${P(L.activities)} in the ${P(L.places)}.`],
    [2, () => `${Hn} met ${adj()} ${F.k} named ${F.n}. "${P(GREET)}!" said ${F.n}.`],
    [
      1,
      () => `${cap(his)} friend ${F.n} the ${F.k} came to ${P(ACT).b} ${plural(P(L.objects))} with ${him}.`,
    ],
    [1, () => `${Hn} ${P(MOVE).p} ${P(L.adverbs)} to the ${place2}.`],
    [1, () => `${Hn} and ${F.n} ${P(MOVE).p} past the ${P(L.nature)} and through the ${P(L.places)}.`],
    [
      1,
      () =>
        `On the way, ${he} saw ${P(L.numbers)} ${plural(P(L.animals))} ${P(L.activities)} by the ${
          P(L.nature)
        }.`,
    ],
    [1, () => `${cap(he)} ${P(ACT).p} the ${P(L.objects)} and ${P(ACT).p} ${adj()} ${P(L.foods)}.`],
    [1, () => `${Hn} tried to ${P(ACT).b} the ${obj}, but it was too ${P(L.adj)}.`],
    [1, () => `"Can we ${P(MOVE).b} to the ${P(L.places)}?" ${P(L.speech)} ${Hn}.`],
    [1, () => `"Will you help me ${P(ACT).b} the ${obj}, ${F.n}?" asked ${Hn}.`],
    [1, () => `"Let's ${P(ACT).b} the ${P(L.objects)} together!" ${P(L.speech)} ${F.n} ${P(L.adverbs)}.`],
    [1, () => `"Look, ${adj()} ${P(L.animals)}!" ${P(L.speech)} ${Hn}, pointing at the ${P(L.nature)}.`],
    [2, () => `"Don't be ${P(L.bad)}, ${Hn}," said ${F.n}. "I love ${food()}!"`],
    [1, () => `The ${P(L.weather)} made a ${P(L.sounds)} sound, and the ${P(L.animals)} ${P(MOVE).p} away.`],
  ];
  const middle: string[] = [];
  let budget = int(r, 0, 5);
  for (const [k, f] of shuffle(r, optional)) if (k <= budget) middle.push(f()), budget -= k;
  const trouble = P([
    () => `One day, ${Hn} found ${adj()} ${obj} ${P(L.preps)} the ${P(L.nature)}.`,
    () => `One ${P(L.times)}, ${Hn} lost ${his} ${P(L.adj)} ${obj} in the ${place}.`,
    () => `One day, ${Hn} heard a loud "${P(L.sounds)}" coming from the ${place2}.`,
    () => `On ${his} birthday, ${Hn} got ${adj()} ${obj} from ${his} ${P(L.family)}.`,
  ])();
  const problem = P([
    () => `But the ${obj} was ${P(PROBLEMS)}, and ${Hn} felt ${P(L.bad)}.`,
    () => `Suddenly, ${adj()} ${P(L.weather)} came and blew the ${obj} into the ${P(L.nature)}.`,
    () => `But ${adj()} ${P(L.animals)} took the ${obj} and ran away to the ${place2}.`,
    () => `The ${obj} was stuck at the top of a tall ${P(L.tall)}, and ${he} could not reach it.`,
  ])();
  const fix = P([
    () => `At last, ${Hn} ${P(ACT).p} the ${obj} and felt ${P(L.good)}.`,
    () => `Together, ${Hn} and ${F.n} ${P(ACT).p} the ${obj}, and everyone cheered.`,
    () => `${F.n} used ${adj()} ${P(L.tools)} to get the ${obj} back, and ${Hn} ${P(L.speech)} "Thank you!"`,
    () => `With ${a(P(L.good))} smile, ${Hn} gave the ${obj} to ${his} ${P(L.family)}.`,
  ])();
  const end = P([
    () => `From that day on, ${Hn} remembered ${P(MORALS)}.`,
    () =>
      `They ate ${food()} and ${P(ACT).p} ${plural(P(L.objects))} until it was ${
        P(["dark", "late", "bedtime"])
      }.`,
    () => `That ${P(L.times)}, ${Hn} fell asleep ${P(L.adverbs)}, dreaming of ${noun()}.`,
    () => `${Hn} and ${F.n} became the best of friends, and they learned ${P(MORALS)}.`,
    () => `And ${Hn} was never ${P(L.bad)} again.`,
  ])();
  const cut = int(r, 0, middle.length);
  return [intro, ...middle.slice(0, cut), trouble, problem, ...middle.slice(cut), fix, end].join(" ");
}

/**
 * `n` short stories (5–10 sentences each), deterministic for `seed`.
 *
 * @example
 * ```ts
 * generateStories(2, 1)[0]; // "Once upon a time, there was a fluffy rabbit named Lily. …"
 * ```
 */
export function generateStories(n: number, seed: number): string[] {
  const r = mulberry32(hash(`stories:${seed}`));
  return Array.from({ length: n }, () => story(r));
}
