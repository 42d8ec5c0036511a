"""Modest word lists for synthetic identities and addresses (South Yorkshire flavoured, all made up)."""

from __future__ import annotations

# Forenames with common nicknames (used by messy mode); twins never get a nickname pair.
MALE = [
    "William", "Robert", "Thomas", "James", "Michael", "Daniel", "Joseph", "Alexander", "Matthew",
    "Christopher", "Andrew", "Richard", "Jonathan", "Benjamin", "Samuel", "Nicholas", "Anthony", "Edward",
    "Oliver", "Harry", "Jack", "George", "Charlie", "Jacob", "Alfie", "Noah", "Leo", "Oscar", "Ryan",
    "Liam", "Connor", "Kyle", "Dean", "Lee", "Craig", "Gary", "Paul", "Mark", "Scott", "Wayne",
]
FEMALE = [
    "Elizabeth", "Margaret", "Jennifer", "Katherine", "Rebecca", "Samantha", "Victoria", "Jessica",
    "Abigail", "Natalie", "Deborah", "Susan", "Patricia", "Christine", "Amelia", "Olivia", "Isla", "Emily",
    "Poppy", "Ava", "Lily", "Sophie", "Grace", "Chloe", "Mia", "Ella", "Ruby", "Megan", "Lauren",
    "Kelly", "Donna", "Claire", "Emma", "Sarah", "Laura", "Hannah", "Amy", "Leanne", "Tracy", "Gemma",
]
NICKNAMES = {
    "William": ["Bill", "Will", "Billy"], "Robert": ["Bob", "Rob", "Bobby"], "Thomas": ["Tom", "Tommy"],
    "James": ["Jim", "Jimmy", "Jamie"], "Michael": ["Mike", "Mick"], "Daniel": ["Dan", "Danny"],
    "Joseph": ["Joe", "Joey"], "Alexander": ["Alex", "Sandy"], "Matthew": ["Matt"],
    "Christopher": ["Chris"], "Andrew": ["Andy", "Drew"], "Richard": ["Rich", "Dick"],
    "Jonathan": ["Jon", "Jonny"], "Benjamin": ["Ben"], "Samuel": ["Sam"], "Nicholas": ["Nick"],
    "Anthony": ["Tony"], "Edward": ["Ed", "Eddie", "Ted"], "Charlie": ["Charles"],
    "Elizabeth": ["Liz", "Beth", "Lizzie"], "Margaret": ["Maggie", "Peggy"], "Jennifer": ["Jen", "Jenny"],
    "Katherine": ["Kate", "Kathy", "Katie"], "Rebecca": ["Becky", "Becca"], "Samantha": ["Sam", "Sammy"],
    "Victoria": ["Vicky", "Tori"], "Jessica": ["Jess"], "Abigail": ["Abbie", "Abby"],
    "Natalie": ["Nat"], "Deborah": ["Debbie", "Deb"], "Susan": ["Sue"], "Patricia": ["Pat", "Trish"],
    "Christine": ["Chris", "Tina"], "Amelia": ["Millie"], "Olivia": ["Liv"], "Emily": ["Em"],
}
SURNAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Wilson", "Johnson", "Walker", "Wright", "Robinson", "Thompson",
    "White", "Hughes", "Edwards", "Green", "Hall", "Wood", "Harris", "Lewis", "Martin", "Jackson",
    "Clarke", "Clark", "Turner", "Hill", "Scott", "Cooper", "Morris", "Ward", "Moore", "King", "Watson",
    "Baker", "Harrison", "Morgan", "Patel", "Young", "Allen", "Mitchell", "James", "Anderson", "Phillips",
    "Lee", "Bell", "Parker", "Davis", "Bailey", "Shaw", "Marshall", "Atkinson", "Fletcher", "Holmes",
    "Barker", "Booth", "Hirst", "Senior", "Crossley", "Dyson", "Haigh", "Beever", "Sykes", "Ramsden",
    "Brook", "Firth", "Gledhill", "Kaur", "Khan", "Hussain", "Ahmed", "Begum", "Ali", "Nowak", "Kowalski",
    "Horvath", "Ferreira", "O'Brien", "McDonald", "Smith-Jones", "Lindley", "Oxley", "Padgett",
]
STREETS = [
    "Station", "Church", "Mill", "Park", "Victoria", "Albert", "Queen", "King", "High", "Manor", "Chapel",
    "Green", "School", "Castle", "Bridge", "Meadow", "Oak", "Elm", "Ash", "Beech", "Willow", "Cedar",
    "Hawthorn", "Holly", "Rosehill", "Broom", "Moorgate", "Wellgate", "Doncaster", "Sheffield", "Barnsley",
    "Fitzwilliam", "Wentworth", "Clifton", "Herringthorpe", "Badsley", "Kimberworth", "Greasbrough",
    "Rawmarsh", "Dalton", "Thrybergh", "Brinsworth", "Canklow", "Eastwood", "Ferham", "Masbrough",
    "Bramley", "Wickersley", "Maltby", "Hellaby", "Balby", "Hexthorpe", "Wheatley", "Intake", "Cantley",
    "Bessacarr", "Conisbrough", "Denaby", "Mexborough", "Swinton", "Wath", "Bolton", "Goldthorpe",
]
STREET_TYPES = ["Road", "Street", "Avenue", "Lane", "Close", "Drive", "Crescent", "Way", "Grove", "Terrace"]
ABBREVIATIONS = {
    "Road": "Rd", "Street": "St", "Avenue": "Ave", "Lane": "Ln", "Close": "Cl", "Drive": "Dr",
    "Crescent": "Cres", "Way": "Wy", "Grove": "Gr", "Terrace": "Terr",
}
# Postcode districts and the towns they serve.
DISTRICTS = {
    "S60": "Rotherham", "S61": "Kimberworth", "S62": "Rawmarsh", "S63": "Wath upon Dearne",
    "S65": "Rotherham", "S66": "Maltby", "DN1": "Doncaster", "DN2": "Wheatley", "DN4": "Balby",
    "DN12": "Conisbrough",
}
UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
WARDS = [
    "Boston Castle", "Rotherham East", "Rotherham West", "Valley", "Keppel", "Rawmarsh", "Silverwood",
    "Maltby", "Hellaby", "Wath", "Town", "Hexthorpe and Balby North", "Wheatley Hills", "Conisbrough",
]
KEYWORKERS = [
    "K. Ashworth", "M. Bennett", "S. Chaudhry", "D. Dawson", "L. Evans", "R. Fairclough", "T. Gill",
    "J. Hargreaves", "P. Iqbal", "A. Jessop", "C. Kirk", "N. Lowe",
]
