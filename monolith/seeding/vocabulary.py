"""Words the seed builds its shop from: a category tree, product names per leaf, people, places, reviews."""

# Long word lists are written as split strings so that they stay a few lines long.
# ruff: noqa: SIM905

# (name, children); leaves carry the nouns products in them are named after.
CATEGORY_TREE: dict[str, dict[str, list[str]]] = {
    "Clothing": {
        "Jackets": ["Rain Jacket", "Down Jacket", "Softshell Jacket", "Fleece Jacket", "Parka"],
        "Shirts": ["Oxford Shirt", "Flannel Shirt", "Linen Shirt", "Polo Shirt", "T-Shirt"],
        "Trousers": ["Chinos", "Jeans", "Hiking Trousers", "Cargo Pants", "Joggers"],
        "Knitwear": ["Merino Sweater", "Cardigan", "Hoodie", "Turtleneck", "Vest"],
    },
    "Footwear": {
        "Running": ["Road Running Shoe", "Trail Running Shoe", "Racing Flat", "Running Sock"],
        "Hiking": ["Hiking Boot", "Approach Shoe", "Gaiter", "Hiking Sock"],
        "Casual": ["Sneaker", "Loafer", "Chelsea Boot", "Sandal", "Slipper"],
    },
    "Outdoor": {
        "Tents": ["Two-Person Tent", "Ultralight Tent", "Family Tent", "Bivy Sack", "Tarp"],
        "Sleeping": ["Sleeping Bag", "Sleeping Pad", "Camp Pillow", "Hammock"],
        "Backpacks": ["Daypack", "Trekking Backpack", "Hydration Pack", "Duffel Bag"],
        "Cooking": ["Camp Stove", "Cook Set", "Water Filter", "Insulated Bottle", "Enamel Mug"],
    },
    "Home": {
        "Kitchen": ["Chef's Knife", "Cutting Board", "Cast Iron Pan", "French Press", "Tea Kettle"],
        "Bedding": ["Duvet Cover", "Linen Sheet Set", "Wool Blanket", "Pillow"],
        "Lighting": ["Desk Lamp", "Floor Lamp", "Lantern", "LED Bulb"],
    },
    "Electronics": {
        "Audio": ["Wireless Headphones", "Bluetooth Speaker", "Earbuds", "Turntable"],
        "Accessories": ["USB-C Cable", "Power Bank", "Phone Case", "Laptop Sleeve", "Charger"],
        "Wearables": ["GPS Watch", "Fitness Tracker", "Heart Rate Strap"],
    },
    "Books": {
        "Travel": ["Hiking Guide", "City Guide", "Road Atlas", "Phrasebook"],
        "Cooking": ["Cookbook", "Baking Book", "Fermentation Handbook"],
        "Fiction": ["Novel", "Short Story Collection", "Graphic Novel"],
    },
}

# Price band (min, max) per top-level category, in the currency's major unit.
PRICE_BANDS: dict[str, tuple[int, int]] = {
    "Clothing": (15, 320),
    "Footwear": (12, 260),
    "Outdoor": (9, 890),
    "Home": (6, 240),
    "Electronics": (8, 450),
    "Books": (7, 55),
}

ADJECTIVES = (
    "Alpine Classic Everyday Lightweight Rugged Urban Coastal Nordic Vintage Essential Trail Summit "
    "Compact Heritage Modern Organic Recycled Waterproof Insulated Packable"
).split()
DEPARTMENT_ADJECTIVES = {
    "Books": ["Illustrated", "Pocket", "Annotated", "Revised", "Complete", "Collector's", "Essential", "Modern"],
    "Electronics": ["Compact", "Wireless", "Pro", "Rugged", "Slim", "Essential", "Fast", "Travel"],
}
COLOURS = ("Black Navy Olive Sand Rust Grey Forest Ochre Slate Cream Burgundy Teal").split()
BRANDS = (
    "Fjellstad|Northwind|Halden & Co|Kestrel|Brightwater|Ironbark|Lumen|Marlow|Oakhurst|Pinecrest|Quarry|"
    "Redfern|Saltmarsh|Tidewater|Umber|Vale|Wexford|Yarrow"
).split("|")
DESCRIPTION_OPENERS = (
    "Built for long days outside|Designed in our studio and made to last|"
    "A customer favourite since launch|Simple, honest and easy to care for|"
    "Made from responsibly sourced materials|Tested by our own team"
).split("|")
DESCRIPTION_DETAILS = (
    "Comes with a two-year warranty.|Repairable, with spare parts available.|"
    "Ships in plastic-free packaging.|Machine washable at 30 degrees.|Fits true to size.|"
    "Pairs well with the rest of the range."
).split("|")

# (currency, share of products): most of the shop sells in euros.
CURRENCIES = [("EUR", 0.85), ("GBP", 0.09), ("USD", 0.06)]

WAREHOUSES = [
    ("BER-1", "Berlin Spandau", "Berlin", "DE"),
    ("HAM-1", "Hamburg Port", "Hamburg", "DE"),
    ("MUC-1", "Munich North", "Munich", "DE"),
    ("AMS-1", "Amsterdam West", "Amsterdam", "NL"),
    ("WAW-1", "Warsaw Central", "Warsaw", "PL"),
    ("LYS-1", "Lyon Saint-Priest", "Lyon", "FR"),
]

FIRST_NAMES = (
    "Emma Liam Mia Noah Hannah Elias Sofia Felix Lena Jonas Clara Paul Ida Leon Marie Finn Lea Ben Anna "
    "Luca Julia Max Nora Emil Zoe Oskar Ella Theo Maja Anton Lina Jakob Amira Mateo Yara Kofi Aiko Ravi "
    "Ines Tomasz"
).split()
LAST_NAMES = (
    "Schmidt|Müller|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Hoffmann|Koch|Richter|Klein|Wolf|Neumann|"
    "Schwarz|Braun|Zimmermann|Krüger|Hartmann|Lange|de Vries|Jansen|Nowak|Kowalski|Dubois|Martin|Bernard|"
    "Rossi|Garcia|Okafor|Tanaka|Singh|Haddad"
).split("|")
STREETS = (
    "Hauptstraße|Bahnhofstraße|Gartenweg|Lindenallee|Schillerstraße|Goethestraße|Marktplatz|"
    "Keizersgracht|Prinsengracht|Rue de la République|ulica Marszałkowska|Mühlenweg|Am Hafen"
).split("|")
CITIES = [
    ("Berlin", "10115", "DE"),
    ("Hamburg", "20095", "DE"),
    ("Munich", "80331", "DE"),
    ("Cologne", "50667", "DE"),
    ("Leipzig", "04109", "DE"),
    ("Amsterdam", "1012", "NL"),
    ("Utrecht", "3511", "NL"),
    ("Warsaw", "00-001", "PL"),
    ("Kraków", "30-001", "PL"),
    ("Lyon", "69001", "FR"),
    ("Paris", "75001", "FR"),
    ("Vienna", "1010", "AT"),
]

# (rating, weight): reviews lean positive, with a long tail of unhappy ones.
RATING_WEIGHTS = [(5, 45), (4, 30), (3, 12), (2, 6), (1, 7)]
REVIEW_TITLES = {
    5: ["Love it", "Perfect", "Exactly what I wanted", "Best purchase this year", "Highly recommended"],
    4: ["Very good", "Great value", "Happy with it", "Nearly perfect", "Solid choice"],
    3: ["It's fine", "Does the job", "Mixed feelings", "Average", "OK for the price"],
    2: ["Disappointed", "Not as described", "Could be better", "Meh"],
    1: ["Broke after a week", "Returned it", "Do not buy", "Poor quality"],
}
REVIEW_BODIES = {
    5: ["Great quality and fast delivery.", "Fits perfectly and looks even better in person.", "Would buy again."],
    4: ["Good product, the colour is slightly different.", "Works well, packaging could be smaller."],
    3: ["Does what it says, nothing more.", "Quality is okay, a bit pricey."],
    2: ["Sizing runs small and the seams are loose.", "Arrived late and scratched."],
    1: ["Stopped working almost immediately.", "Customer service was helpful but the product is not."],
}
