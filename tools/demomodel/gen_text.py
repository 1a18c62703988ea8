#!/usr/bin/python3
"""gen_text.py: generate the demo model's English text corpus from templates.

News-style and conversational sentences are built from hand-written templates and
word lists (all written for this project), normalised to lower-case letters,
apostrophes and single spaces, de-duplicated, and split into a training list and a
held-out test list (the test sentences never appear in the training list).

    /usr/bin/python3 tools/demomodel/gen_text.py --out tools/demomodel/work/text \
        --train 9000 --test 300 --seed 1

Writes OUT/train.txt, OUT/test.txt and OUT/bulletin.txt (a fixed ~30 s bulletin of
held-out sentences used by tools/sample/make_sample.sh).
"""
import argparse
import os
import random
import re

PLACES = """london paris berlin madrid rome dublin glasgow edinburgh cardiff belfast
manchester liverpool leeds bristol oxford cambridge york brighton newcastle sheffield
chicago boston denver seattle houston dallas atlanta miami phoenix portland detroit
toronto montreal vancouver sydney melbourne auckland tokyo seoul beijing delhi mumbai
cairo nairobi lagos lisbon vienna prague warsaw athens oslo stockholm helsinki
amsterdam brussels geneva zurich milan naples florence texas california florida
canada mexico brazil india china japan germany france spain italy ireland scotland
wales england norway sweden kenya egypt australia europe africa asia""".split()

PEOPLE = [
    'the minister',
    'the president',
    'the mayor',
    'the governor',
    'the prime minister',
    'the police',
    'the council',
    'the government',
    'the company',
    'the union',
    'the committee',
    'the court',
    'the judge',
    'the coach',
    'the captain',
    'the team',
    'the club',
    'the board',
    'the bank',
    'the hospital',
    'the school',
    'the university',
    'the city council',
    'the fire service',
    "the prime minister's office",
    'the new manager',
    'the health secretary',
    'the foreign minister',
    'the local authority',
    'scientists',
    'doctors',
    'teachers',
    'nurses',
    'farmers',
    'workers',
    'engineers',
    'officials',
    'residents',
    'researchers',
    'investors',
    'voters',
    'students',
    'drivers',
    'shoppers',
    'fans',
    'experts',
    'analysts',
]

NAMES = """john mary james sarah david emma peter laura michael anna paul helen mark lucy
tom kate daniel sophie chris rachel steven claire andrew jane robert alice george
emily simon grace richard hannah thomas amy william julia""".split()

WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
MONTHS = """january february march april may june july august september october
november december""".split()
TIMES = [
    'this morning',
    'this afternoon',
    'this evening',
    'tonight',
    'yesterday',
    'today',
    'tomorrow',
    'last night',
    'last week',
    'next week',
    'earlier today',
    'later this year',
    'last month',
    'next month',
    'overnight',
    'at the weekend',
]

NUMS = """one two three four five six seven eight nine ten eleven twelve thirteen fourteen
fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
eighty ninety""".split()
BIG = "hundred thousand million billion".split()
ORD = """first second third fourth fifth sixth seventh eighth ninth tenth""".split()

NEWS_NOUNS = """bridge road railway station airport hospital school library museum stadium
factory plant port harbour market park tunnel motorway budget plan report deal
agreement law bill policy tax rate price prices wages rents pensions election vote
strike protest storm flood fire drought heatwave match final game season league cup
trial inquiry investigation project programme service scheme network system project
company bank shares profits sales exports jobs homes houses flats buses trains
flights tickets schools hospitals roads power water energy gas oil electricity
vaccine treatment study survey festival concert exhibition film show""".split()
NEWS_NOUNS = sorted(set(NEWS_NOUNS))

ADJS = """new old large small major local national public private early late strong
weak heavy light high low long short young rural urban main key final senior
cheap expensive modern historic busy quiet safe dangerous serious important""".split()

VERBS_PAST = """announced approved rejected opened closed delayed cancelled launched
confirmed denied reported warned promised planned proposed completed started
reviewed criticised welcomed supported blocked announced signed agreed""".split()
VERBS_PAST = sorted(set(VERBS_PAST))

CHANGE_VERBS = "rose fell climbed dropped increased decreased jumped slipped".split()

WEATHER = """rain snow sunshine showers wind fog cloud thunderstorms sleet frost""".split()
REGIONS = """the north the south the east the west the midlands the coast the highlands
the islands the capital the border the valley the hills""".split("\n")
REGIONS = [r.strip() for line in REGIONS for r in re.split(r"\s(?=the )", line) if r.strip()]

SPORTS_TEAMS = [
    'united',
    'city',
    'rovers',
    'athletic',
    'wanderers',
    'rangers',
    'county',
    'albion',
    'town',
    'the lions',
    'the tigers',
    'the eagles',
    'the wolves',
    'the bears',
    'the sharks',
]

FOODS = """coffee tea pizza pasta soup bread cake rice chicken fish salad sandwiches
chips curry noodles apples oranges""".split()
THINGS = """book phone car bike keys bag jacket ticket laptop camera umbrella wallet
letter parcel card map radio clock lamp chair table window door""".split()
PLACES_LOCAL = [
    'the shop',
    'the station',
    'the office',
    'the park',
    'the cinema',
    'the library',
    'the beach',
    'the gym',
    'the airport',
    'the market',
    'the garden',
    'the kitchen',
    'the hotel',
    'the restaurant',
    "the doctor's",
    "the dentist's",
    'the bank',
    'the post office',
]
ACTIVITIES = [
    'go shopping',
    'watch a film',
    'play football',
    'read a book',
    'cook dinner',
    'go for a walk',
    'visit my parents',
    'clean the house',
    'fix the car',
    'call my sister',
    'learn to swim',
    'take the train',
    'paint the kitchen',
    'write a letter',
    'plant some trees',
    'bake a cake',
]
FEELINGS = """happy tired hungry busy ready sure worried excited bored cold late sorry
glad lucky nervous""".split()
SUBJ = "i we you they she he".split()
MODALS = "can could will would should might must".split()

# contractions matter for the apostrophe token
CONTR = """i'm you're we're they're it's that's there's don't doesn't didn't can't
won't isn't aren't wasn't haven't hasn't couldn't wouldn't shouldn't i've we've
you've i'll we'll you'll let's what's who's""".split()


def number_words(r):
    """A random spelled-out number (one to nine hundred and ninety nine thousand)."""
    kind = r.random()
    units = NUMS[:19]
    tens = NUMS[19:]
    def below_hundred():
        if r.random() < 0.5:
            return r.choice(units)
        t = r.choice(tens)
        return t if r.random() < 0.4 else t + " " + r.choice(units[:9])
    if kind < 0.45:
        return below_hundred()
    if kind < 0.7:
        s = r.choice(units[:9]) + " hundred"
        return s if r.random() < 0.3 else s + " and " + below_hundred()
    if kind < 0.9:
        return below_hundred() + " " + r.choice(["thousand", "million", "billion"])
    return r.choice(units[:9]) + " point " + r.choice(units[:9])


def year_words(r):
    return r.choice(["twenty", "two thousand and"]) + " " + r.choice(
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "fifteen", "twenty", "twenty one", "twenty four", "twenty five",
         "twenty six", "thirty"])


def pick(r, xs):
    return r.choice(xs)


def news(r):
    t = r.randrange(24)
    P = lambda xs: pick(r, xs)
    if t == 0:
        return f"{P(PEOPLE)} {P(VERBS_PAST)} the {P(ADJS)} {P(NEWS_NOUNS)} {P(TIMES)}"
    if t == 1:
        return f"the {P(NEWS_NOUNS)} in {P(PLACES)} will {P(['open','close','reopen','be rebuilt','be reviewed'])} on {P(WEEKDAYS)}"
    if t == 2:
        return f"{P(['prices','shares','sales','profits','exports','rents','wages'])} {P(CHANGE_VERBS)} by {number_words(r)} percent {P(TIMES)}"
    if t == 3:
        return f"{P(['heavy','light','scattered','persistent','freezing'])} {P(WEATHER)} is expected in {P(REGIONS)} {P(TIMES)}"
    if t == 4:
        return f"{P(SPORTS_TEAMS)} beat {P(SPORTS_TEAMS)} {P(NUMS[:6])} {P(['to','nil to'])} {P(NUMS[:4])}"
    if t == 5:
        return f"police in {P(PLACES)} are asking for information about a {P(['crash','fire','robbery','break in','missing dog','stolen car'])}"
    if t == 6:
        return f"{number_words(r)} people were {P(['evacuated','injured','rescued','moved','stranded'])} after the {P(['storm','flood','fire','crash','blast'])} in {P(PLACES)}"
    if t == 7:
        return f"the {P(['election','vote','referendum','final','summit','trial'])} will take place on the {P(ORD)} of {P(MONTHS)}"
    if t == 8:
        return f"{P(PEOPLE)} said the {P(NEWS_NOUNS)} would cost {number_words(r)} {P(['pounds','dollars','euros'])}"
    if t == 9:
        return f"temperatures will reach {number_words(r)} degrees in {P(PLACES)} {P(TIMES)}"
    if t == 10:
        return f"the {P(ADJS)} {P(NEWS_NOUNS)} was {P(VERBS_PAST)} by {P(PEOPLE)}"
    if t == 11:
        return f"in {P(PLACES)} {P(PEOPLE)} {P(VERBS_PAST)} a {P(ADJS)} {P(NEWS_NOUNS)}"
    if t == 12:
        return f"{P(['good evening','good morning','hello'])} and welcome to the news from {P(PLACES)}"
    if t == 13:
        return f"{P(['flights','trains','buses','ferries'])} to {P(PLACES)} have been {P(['cancelled','delayed','suspended','restored'])} because of {P(WEATHER)}"
    if t == 14:
        return f"the {P(['report','study','survey','inquiry'])} found that {number_words(r)} in ten {P(['people','adults','children','workers','drivers'])} {P(['agree','disagree','are worried','feel safe','want change'])}"
    if t == 15:
        return f"{P(NAMES)} {P(NAMES)} has been named the {P(['new','next','first'])} {P(['chief executive','head coach','director','chairman','editor','ambassador'])}"
    if t == 16:
        return f"the {P(NEWS_NOUNS)} opened in {year_words(r)} and {P(['closed','was rebuilt','was sold','grew'])} {P(['last year','in the spring','ten years later','this summer'])}"
    if t == 17:
        return f"and now the weather for {P(REGIONS)} and {P(REGIONS)}"
    if t == 18:
        return f"there will be {P(WEATHER)} in {P(REGIONS)} with {P(WEATHER)} later"
    if t == 19:
        return f"{P(PEOPLE)} {P(['has','have'])} {P(['warned','said','confirmed','denied'])} that {P(['prices','rents','costs','taxes','fares'])} will {P(['rise','fall','stay the same','double'])} {P(TIMES)}"
    if t == 20:
        return f"that's all from us {P(TIMES)} we'll be back at {P(NUMS[:12])} o'clock"
    if t == 21:
        return f"the {P(['match','game','final','race'])} in {P(PLACES)} was {P(['postponed','abandoned','delayed','moved'])} until {P(WEEKDAYS)}"
    if t == 22:
        return f"{P(PEOPLE)} {P(['will','could','may'])} {P(['announce','approve','reject','review','delay'])} the {P(NEWS_NOUNS)} {P(TIMES)}"
    return f"the {P(ORD)} {P(['phase','stage','part'])} of the {P(NEWS_NOUNS)} {P(['is finished','has started','was delayed','will cost more'])}"


def conv(r):
    t = r.randrange(22)
    P = lambda xs: pick(r, xs)
    if t == 0:
        return f"{P(['i think','i know','i hope','i guess'])} {P(['it','that','this'])} {P(['is','was','will be'])} {P(['fine','great','too late','a good idea','the right one'])}"
    if t == 1:
        return f"{P(CONTR)} {P(['going to','trying to','about to','not going to'])} {P(ACTIVITIES)}"
    if t == 2:
        return f"could you {P(['pass me','bring me','find','hold'])} the {P(THINGS)} {P(['please','for a minute','on the table',''])}"
    if t == 3:
        return f"shall we {P(ACTIVITIES)} {P(TIMES)}"
    if t == 4:
        return f"{P(SUBJ)} {P(['left','forgot','lost','found'])} {P(['my','your','our','the'])} {P(THINGS)} at {P(PLACES_LOCAL)}"
    if t == 5:
        return f"do you want {P(FOODS)} or {P(FOODS)} for {P(['lunch','dinner','breakfast'])}"
    if t == 6:
        return f"{P(['i’m','we’re','they’re','you’re'])} {P(['so','really','very','a bit'])} {P(FEELINGS)} {P(['today','right now','this week','tonight',''])}"
    if t == 7:
        return f"{P(NAMES)} {P(['said','told me','thinks'])} {P(['she','he','they'])} {P(['can’t','won’t','didn’t','couldn’t'])} {P(['come','stay','help','wait','find it'])}"
    if t == 8:
        return f"what time does {P(PLACES_LOCAL)} {P(['open','close'])} on {P(WEEKDAYS)}"
    if t == 9:
        return f"{P(['let’s','we should','maybe we could'])} meet at {P(PLACES_LOCAL)} at {P(NUMS[:12])} {P(['o’clock','thirty','fifteen'])}"
    if t == 10:
        return f"{P(['thanks','thank you','cheers'])} {P(NAMES)} {P(['that’s','it’s'])} {P(['lovely','perfect','very kind','really helpful'])}"
    if t == 11:
        return f"{P(SUBJ)} {P(MODALS)} {P(ACTIVITIES)} {P(['after work','before lunch','at the weekend','on',''])} {P(WEEKDAYS + [''])}"
    if t == 12:
        return f"have you seen {P(['my','the','her','his'])} {P(THINGS)} anywhere"
    if t == 13:
        return f"{P(['don’t','please don’t','try not to'])} forget to {P(ACTIVITIES)}"
    if t == 14:
        return f"how {P(['was','is'])} {P(['your','the'])} {P(['trip to','holiday in','flight to','week in'])} {P(PLACES)}"
    if t == 15:
        return f"{P(['i’ve','we’ve','they’ve'])} {P(['never been to','always wanted to visit','just come back from'])} {P(PLACES)}"
    if t == 16:
        return f"{P(['it’s','it was'])} {P(['raining','freezing','so hot','really windy','sunny'])} in {P(PLACES)} {P(TIMES)}"
    if t == 17:
        return f"{P(['is there','there isn’t','there’s'])} any {P(FOODS)} left in the {P(['fridge','kitchen','cupboard','bag'])}"
    if t == 18:
        return f"{P(['i’ll','we’ll','you’ll'])} {P(['call','text','email','see'])} {P(['you','them','her','him'])} {P(TIMES)}"
    if t == 19:
        return f"{P(['yes','no','well','okay','right'])} {P(['i','we'])} {P(['think so','don’t think so','agree','aren’t sure','can do that'])}"
    if t == 20:
        return f"the {P(THINGS)} costs {number_words(r)} {P(['pounds','dollars','euros'])}"
    return f"my {P(['brother','sister','friend','neighbour','mother','father','cousin'])} {P(NAMES)} lives in {P(PLACES)}"


def normalise(s):
    # templates write apostrophes inside f-string expressions as U+2019 (Python 3.11
    # forbids backslashes there); they become ASCII apostrophes here.
    s = s.lower().replace("’", "'")
    s = re.sub(r"[^a-z' ]+", " ", s)
    s = re.sub(r"\s+", " ", s).strip()
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", type=int, default=9000)
    ap.add_argument("--test", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    r = random.Random(a.seed)
    seen = set()
    sents = []
    want = a.train + a.test
    tries = 0
    while len(sents) < want and tries < want * 50:
        tries += 1
        s = normalise(news(r) if r.random() < 0.55 else conv(r))
        n = len(s.split())
        if n < 4 or n > 14 or s in seen:
            continue
        seen.add(s)
        sents.append(s)
    r.shuffle(sents)
    test, train = sents[:a.test], sents[a.test:]
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "train.txt"), "w") as f:
        f.write("\n".join(train) + "\n")
    with open(os.path.join(a.out, "test.txt"), "w") as f:
        f.write("\n".join(test) + "\n")
    vocab = {w for s in sents for w in s.split()}
    print(f"train {len(train)} test {len(test)} vocabulary {len(vocab)} words")


if __name__ == "__main__":
    main()
