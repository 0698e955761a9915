//! Word lists the sandbox builds names, race titles and comments from.

#[rustfmt::skip]
pub const NAME_A: &[&str] = &[
    "Raging", "Camp", "Golden", "Silver", "Dark", "Midnight", "Royal", "Wild", "Bold", "Secret",
    "Lucky", "Brave", "Quiet", "Storm", "River", "Mountain", "Desert", "Ocean", "Crimson", "Misty",
    "Highland", "Northern", "Southern", "Western", "Eastern", "Sky", "Star", "Moon", "Sun", "Iron",
    "Velvet", "Copper", "Swift", "Gentle", "Noble", "Blue", "Black", "White", "Red", "Emerald",
    "Amber", "Frosty", "Thunder", "Dancing", "Flying", "Roaring", "Sleepy", "Merry", "Captain",
    "Lady", "Sir", "King", "Queen", "Prince",
];

#[rustfmt::skip]
pub const NAME_B: &[&str] = &[
    "Raj", "Vega", "Arrow", "Legend", "Dancer", "Spirit", "Thunder", "Glory", "Dream", "Warrior",
    "Echo", "Harbour", "Valley", "Forest", "Falcon", "Eagle", "Tiger", "Lion", "Comet", "Rocket",
    "Melody", "Rhythm", "Whisper", "Shadow", "Flame", "Crown", "Empire", "Journey", "Voyage",
    "Promise", "Fortune", "Chance", "Gamble", "Return", "Express", "Approach", "Charm", "Tempo",
    "Affair", "Quest", "Mission", "Testimony", "Girl", "Boy", "Bay", "Hill", "Ridge", "Lad", "Lass",
    "Minstrel", "Piper", "Banker", "Jester",
];

#[rustfmt::skip]
pub const FIRST_NAMES: &[&str] = &[
    "David", "Tom", "Harry", "James", "Oisin", "Rachael", "Hollie", "William", "Ryan", "Jack",
    "Sean", "Paddy", "Danny", "Rob", "Jamie", "Callum", "Saffie", "Luke", "Kieran", "Mark",
    "Daniel", "Oliver", "Ben", "Charlie", "Gavin", "Brian", "Jonathan", "Alistair", "Warren",
    "Tommie", "Joe", "Charlotte", "Jane", "Nicky", "Paul", "Willie", "Gordon", "Dan", "Emma",
    "Olly",
];

#[rustfmt::skip]
pub const SURNAMES: &[&str] = &[
    "Egan", "Marquand", "Murphy", "Doyle", "Blackmore", "Townend", "Moore", "Buick", "Kingscote",
    "Kennedy", "Walsh", "Geraghty", "Mullins", "Elliott", "Henderson", "Nicholls", "Skelton",
    "King", "Haggas", "Gosden", "Appleby", "O'Brien", "Hannon", "Johnston", "Fell", "Dixon",
    "Holland", "Winn", "O'Neill", "Fentiman", "Rawlinson", "Jakes", "Williams", "Woods", "Davies",
    "Scott", "Sheehan", "Burke", "Turner", "Harvey", "Williamson", "Hayes", "Jones", "Chapple-Hyam",
    "Twiston-Davies", "Cobden",
];

#[rustfmt::skip]
pub const LOCATIONS: &[&str] = &[
    "Newmarket, Suffolk", "Lambourn, Berks", "Malton, N Yorks", "Middleham, N Yorks",
    "Dalham, Suffolk", "Ditcheat, Somerset", "Upper Lambourn, Berks", "Epsom, Surrey",
    "Closutton, Co. Carlow", "Cullentra, Co. Meath", "Ballydoyle, Co. Tipperary",
    "Curragh, Co. Kildare", "Naunton, Gloucs", "Cheltenham, Gloucs", "Hambleton, N Yorks",
    "Kinnersley, Worcs",
];

#[rustfmt::skip]
pub const SPONSORS: &[&str] = &[
    "Every Race Live On Racing TV", "Sky Sports Racing HD Virgin 535", "Bet365", "William Hill",
    "Coral", "Ladbrokes", "Betfred", "Paddy Power", "Irish Stallion Farms EBF",
    "British Stallion Studs EBF", "Download The At The Races App",
    "Watch Racing Free Online At Coral", "Follow Racing TV On X", "Join Racing TV Now",
    "Arc All-Weather £1Million Bonus Returns", "Tote Placepot", "Boylesports", "Heineken Ireland",
    "Racing Post", "Sun Racing",
];

#[rustfmt::skip]
pub const RACECARD_COMMENTS: &[&str] = &[
    "Never dangerous in useful maiden when last seen; may improve at this level",
    "Consistent sort who is on a fair mark; claims", "Back from a break; needs to bounce back",
    "Won well last time; up in the weights but still interesting",
    "Has been running well in defeat; each-way claims",
    "Debutant from a yard in form; watch the market", "Disappointing lately; others preferred",
    "Well treated on old form; could be dangerous",
];

#[rustfmt::skip]
pub const SPOTLIGHT_A: &[&str] = &[
    "Absent and gelded since last seen; may do better now handicapping.",
    "Landed a gamble over course and distance last time.",
    "Has shaped with promise in three starts and the step up in trip should suit.",
    "Slipped down the weights after some modest efforts.",
    "Ran respectably when last seen and is on a workable mark.",
];

#[rustfmt::skip]
pub const SPOTLIGHT_B: &[&str] = &[
    "Market support would heighten interest.", "Looks sure to go well again.",
    "Others make more appeal.", "Respected.", "Could be up to this.",
];

#[rustfmt::skip]
pub const RESULT_COMMENTS: &[&str] = &[
    "Held up in rear - headway over 1f out - kept on well inside final furlong",
    "Led at steady pace - headed over 1f out - no extra inside final furlong",
    "Tracked leaders - ridden 2f out - one pace",
    "In touch with leaders - weakened from over 1f out",
    "Prominent - led 2f out - ridden clear final furlong", "Towards rear - never a threat",
    "Mid-division - kept on same pace final 2f",
];
