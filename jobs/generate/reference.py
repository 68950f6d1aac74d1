"""Reference lists the generator draws from: names, employers, merchants, merchant category codes.

Everything here is fictional or generic. Counterparty names carry no commas so they never need quoting;
the merchant names are grouped by spend category; a purchase carries a merchant category code of its
category (MCC, from the reference file silver maps codes to categories with).
"""

from __future__ import annotations

import json

import numpy as np

from jobs.resources import resource_dir


def _words(text: str) -> list[str]:
    return text.split()


FEMALE_FIRST = _words("""Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty
Sandra
Margaret Ashley Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Dorothy Rebecca Sharon
Laura Cynthia Amy Kathleen Angela Shirley Brenda Emma Anna Pamela Nicole Samantha Katherine Christine Helen
Debra Rachel Carolyn Janet Maria Catherine Heather Diane Olivia Julie Joyce Victoria Ruth Virginia Lauren
Kelly Christina Joan Evelyn Judith Andrea Hannah Megan Cheryl Jacqueline Martha Madison Teresa Gloria Sara
Janice Ann Kathryn Abigail Sophia Frances Jean Alice Judy Isabella Julia Grace Amber Denise Danielle Marilyn
Beverly Charlotte Natalie Theresa Diana Brittany Doris Kayla Alexis Lori Marie Chloe Mia Zoe Priya Mei
Aisha Fatima Lucia Sofia Yuki Ingrid""")

MALE_FIRST = _words("""James Robert John Michael David William Richard Joseph Thomas Christopher Charles Daniel Matthew
Anthony Mark Donald Steven Andrew Paul Joshua Kenneth Kevin Brian Timothy Ronald George Jason Edward Jeffrey
Ryan Jacob Nicholas Gary Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Alexander
Patrick Frank Raymond Jack Dennis Jerry Tyler Aaron Jose Adam Nathan Henry Zachary Douglas Peter Kyle Noah
Ethan Jeremy Christian Walter Keith Austin Roger Terry Sean Gerald Carl Dylan Harold Jordan Jesse Bryan
Lawrence Arthur Gabriel Bruce Logan Billy Joe Alan Juan Elijah Willie Albert Wayne Randy Mason Vincent Liam
Roy Bobby Caleb Bradley Russell Lucas Omar Raj Wei Hiroshi Mateo Lars Ahmed Diego Ivan""")

LAST = _words("""Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez
Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez
Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall
Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes
Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard
Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez
Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman
Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham
Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens
Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry
Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder
Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills
Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley
Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan
Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews
Pena Richards Contreras Willis Carpenter Lawrence Sandoval Guerrero George Chapman Rios Estrada Ortega
Watkins Greene Nunez Wheeler Valdez Harper Burke Larson Santiago Maldonado Morrison Franklin Carlson Austin
Dominguez Carr Lawson Jacobs OBrien Lynch Singh Vega Bishop Montgomery Oliver Jensen Harvey Williamson
Gilbert Dean Sims Espinoza Howell Li Wong Reid Hanson Le McCoy Garrett Burton Fuller Wang Weber Welch""")

EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
                 "proton.me", "comcast.net"]

EMPLOYERS = """ACME CORP|GLOBEX INC|INITECH|UMBRELLA HEALTH|STARK INDUSTRIES|WAYNE ENTERPRISES|HOOLI|
VANDELAY IMPORTS|SOYLENT FOODS|CYBERDYNE SYSTEMS|MASSIVE DYNAMIC|WONKA INDUSTRIES|TYRELL CORP|
CITY OF SPRINGFIELD|STATE UNIVERSITY|COUNTY SCHOOL DISTRICT|MERCY HOSPITAL|NORTHWIND TRADERS|CONTOSO LTD|
FABRIKAM INC|LITWARE INC|ADVENTURE WORKS|BLUE YONDER AIRLINES|WINGTIP TOYS|TAILSPIN TOYS|PROSEWARE INC|
GREEN VALLEY FARMS|RIVERSIDE LOGISTICS|SUMMIT CONSTRUCTION|PIONEER ENERGY|METRO TRANSIT AUTHORITY|
LAKESIDE RETAIL|HARBOR FREIGHT LINES|OAKRIDGE LABS|BRIGHTPATH SOFTWARE|SILVERLINE INSURANCE|
REDWOOD DENTAL|NORTHSTAR MEDIA|EVERGREEN CARE HOMES|US POSTAL SERVICE""".replace("\n", "").split("|")

# Deposit counterparties by transaction type (plus MERCHANTS for CARD_SETTLEMENT, EMPLOYERS for PAYROLL).
EXTERNAL_IN = ["OTHER BANK", "CHASE TRANSFER", "BANK OF AMERICA TRANSFER", "PAYPAL TRANSFER", "ZELLE TRANSFER"]
EXTERNAL_OUT = ["OTHER BANK", "VANGUARD BROKERAGE", "FIDELITY INVESTMENTS", "VENMO", "PAYPAL",
                "CHASE TRANSFER", "ALLY BANK"]
LANDLORDS = ["OAKWOOD PROPERTIES", "SUMMIT APARTMENTS", "GREYSTAR RENT", "EQUITY RESIDENTIAL",
             "PRIVATE LANDLORD"]
EXTERNAL_MORTGAGE = ["WELLS FARGO HOME MTG", "ROCKET MORTGAGE", "CHASE MORTGAGE"]
BILLERS = ["CITY POWER & LIGHT", "METRO WATER", "VERIZON WIRELESS", "COMCAST", "STATE FARM INSURANCE", "GEICO"]
ATM = ["MO1 ATM", "OTHER BANK ATM"]
# This bank's own products as they appear on a statement line.
OWN_MORTGAGE = "MO1 HOME LOANS"
OWN_LENDING = "MO1 LENDING"
OWN_CARDS = "MO1 CARD SERVICES"
OWN_SAVINGS = "OWN SAVINGS"
OWN_CHECKING = "OWN CHECKING"
OWN_CUSTOMER = "MO1 CUSTOMER TRANSFER"
OWN_TERM = "OWN TERM DEPOSIT"
PENSION = "SSA TREAS 310"
DOWN_PAYMENT = ["FIRST AMERICAN TITLE", "STEWART TITLE ESCROW", "FIDELITY NATIONAL TITLE"]

# Spend categories shared by the card processor (merchant_category) and debit-card settlements.
CATEGORIES = ["groceries", "dining", "travel", "fuel", "furniture", "electronics", "utilities",
              "entertainment", "health", "other", "jewelry", "kids"]
MERCHANTS = {
    "groceries": ["KROGER", "SAFEWAY", "WHOLE FOODS", "TRADER JOES"],
    "dining": ["STARBUCKS", "CHIPOTLE", "OLIVE GARDEN", "LOCAL BISTRO"],
    "travel": ["DELTA AIR LINES", "MARRIOTT", "EXPEDIA", "UNITED AIRLINES"],
    "fuel": ["SHELL", "CHEVRON", "EXXONMOBIL"],
    "furniture": ["IKEA", "WAYFAIR", "ASHLEY FURNITURE"],
    "electronics": ["BEST BUY", "APPLE STORE", "NEWEGG"],
    "utilities": ["CITY POWER & LIGHT", "VERIZON WIRELESS"],
    "entertainment": ["NETFLIX", "AMC THEATRES", "TICKETMASTER", "SPOTIFY"],
    "health": ["CVS PHARMACY", "WALGREENS", "LABCORP"],
    "other": ["AMAZON", "TARGET", "WALMART", "HOME DEPOT"],
    "jewelry": ["KAY JEWELERS", "ZALES", "TIFFANY & CO"],
    "kids": ["BUYBUY BABY", "CARTERS", "TOYS R US", "BABIES R US"],
}
# Merchant category codes per category: the bank's reference file (schemas/reference/), shared with silver.
_MCC_FILE = resource_dir("schemas") / "reference" / "mcc_categories.json"
MCC = {c: sorted(int(code) for code, cat in json.loads(_MCC_FILE.read_text())["mcc"].items() if cat == c)
       for c in CATEGORIES}

# Typical ticket size (USD) per category; spend budgets are split into purchases of about this size.
TICKET = {"groceries": 75, "dining": 38, "travel": 320, "fuel": 52, "furniture": 380, "electronics": 240,
          "utilities": 90, "entertainment": 42, "health": 55, "other": 68, "jewelry": 900, "kids": 60}
# Baseline share of discretionary spend per category before a person's lifestyle tilts it.
BASE_SHARE = {"groceries": 0.30, "dining": 0.10, "travel": 0.05, "fuel": 0.10, "furniture": 0.025,
              "electronics": 0.035, "utilities": 0.04, "entertainment": 0.06, "health": 0.06, "other": 0.23,
              "jewelry": 0.002, "kids": 0.004}

POSTCODES = [f"{p:05d}" for p in range(10001, 99950, 173)]  # ~520 fictional 5-digit areas

# Localities and their states; each postcode lies in one of them (several postcodes to a city, as in life).
LOCALITIES = [tuple(pair.rsplit(" ", 1)) for pair in """Springfield IL|Columbus OH|Franklin TN|Greenville SC|
Bristol CT|Clinton IA|Fairview OR|Salem MA|Madison WI|Georgetown TX|Arlington VA|Ashland KY|Burlington VT|
Manchester NH|Milford DE|Oxford MS|Riverside CA|Jackson MI|Dayton OH|Auburn AL|Kingston NY|Lexington NE|
Marion IN|Newport RI|Clayton MO|Dover NJ|Hudson NY|Winchester VA|Portland ME|Lancaster PA|Troy AL|Camden AR|
Florence AZ|Monroe LA|Aurora CO|Cleveland OK|Jamestown ND|Hamilton MT|Bedford NH|Chester MD|Dublin GA|
Orange FL|Plymouth MN|Mount Vernon WA|Fort Morgan CO|Saint Joseph MO|Saint Charles IL|Lake City FL|
Round Rock TX|Las Cruces NM|Provo UT|Boise ID|Reno NV|Casper WY|Rapid City SD|Hilo HI|Fairbanks AK|
Charleston WV|Durham NC|Topeka KS""".replace("\n", "").split("|")]


def locality_of(postcodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(locality, state code) of each postcode in POSTCODES: the same postcode always lies in the same place."""
    index = (np.asarray(postcodes).astype(np.int64) - 10001) // 173
    place = index * 7 % len(LOCALITIES)   # neighbouring postcodes in different cities
    cities, states = (np.array(column) for column in zip(*LOCALITIES, strict=True))
    return cities[place], states[place]


STREET_NAMES = _words("""Main Oak Maple Cedar Pine Elm Walnut Chestnut Willow Hickory Birch Spruce Sycamore Magnolia
Dogwood Cherry Park Lake Hill River Spring Forest Meadow Ridge Sunset Highland Church Mill School Market Center
Washington Lincoln Jefferson Madison Franklin Jackson Adams Monroe Grant Harrison Wilson Lee Union Liberty
Prospect Pleasant Valley Railroad Bridge Academy Orchard Garden Fairview Summit 1st 2nd 3rd 4th 5th 6th 7th
8th 9th 10th""")
# Street suffixes (jobs/postal.py abbreviates them) and how common each is.
SUFFIX_SHARE = {"Street": 0.30, "Avenue": 0.20, "Road": 0.12, "Drive": 0.12, "Lane": 0.08, "Court": 0.05,
                "Boulevard": 0.04, "Place": 0.04, "Way": 0.03, "Terrace": 0.02}

# What people are called instead of their given name (the silos record either). Only some people go
# by one (people.py); a record may carry it or the given name (silos.py).
NICKNAMES = {
    # male
    "Robert": ["Bob", "Rob", "Bobby"], "William": ["Bill", "Will"], "Richard": ["Rick", "Rich", "Dick"],
    "James": ["Jim", "Jimmy"], "John": ["Jack", "Johnny"], "Michael": ["Mike"], "David": ["Dave"],
    "Joseph": ["Joe"], "Thomas": ["Tom"], "Christopher": ["Chris"], "Charles": ["Charlie", "Chuck"],
    "Daniel": ["Dan", "Danny"], "Matthew": ["Matt"], "Anthony": ["Tony"], "Donald": ["Don"],
    "Steven": ["Steve"], "Andrew": ["Andy", "Drew"], "Joshua": ["Josh"], "Kenneth": ["Ken"],
    "Timothy": ["Tim"], "Ronald": ["Ron"], "Edward": ["Ed", "Ted"], "Jeffrey": ["Jeff"], "Jacob": ["Jake"],
    "Nicholas": ["Nick"], "Jonathan": ["Jon"], "Stephen": ["Steve"], "Lawrence": ["Larry"],
    "Benjamin": ["Ben"], "Samuel": ["Sam"], "Gregory": ["Greg"], "Alexander": ["Alex"], "Patrick": ["Pat"],
    "Raymond": ["Ray"], "Zachary": ["Zach"], "Douglas": ["Doug"], "Peter": ["Pete"], "Gerald": ["Jerry"],
    "Harold": ["Harry"], "Bradley": ["Brad"], "Vincent": ["Vince"], "Albert": ["Al"], "Nathan": ["Nate"],
    "Frank": ["Frankie"], "Russell": ["Russ"], "Walter": ["Walt"], "Arthur": ["Art"],
    # female
    "Patricia": ["Pat", "Trish"], "Jennifer": ["Jen", "Jenny"], "Elizabeth": ["Liz", "Beth"],
    "Barbara": ["Barb"], "Susan": ["Sue"], "Jessica": ["Jess"], "Margaret": ["Maggie", "Peggy"],
    "Kimberly": ["Kim"], "Deborah": ["Debbie"], "Stephanie": ["Steph"], "Dorothy": ["Dot"],
    "Rebecca": ["Becky"], "Cynthia": ["Cindy"], "Kathleen": ["Kathy"], "Pamela": ["Pam"],
    "Samantha": ["Sam"], "Katherine": ["Kate", "Katie"], "Christine": ["Chris"], "Catherine": ["Cathy"],
    "Victoria": ["Vicky"], "Jacqueline": ["Jackie"], "Abigail": ["Abby"], "Judith": ["Judy"],
    "Theresa": ["Terri"], "Kathryn": ["Kate"], "Sandra": ["Sandy"], "Melissa": ["Missy"],
    "Frances": ["Fran"], "Isabella": ["Bella"], "Beverly": ["Bev"], "Danielle": ["Dani"],
    "Madison": ["Maddie"], "Christina": ["Tina"], "Virginia": ["Ginny"], "Jacquelyn": ["Jackie"],
}

# Work addresses: the employer's domain (EMPLOYERS above, letters only); addresses people used before
# (an old provider) and family addresses shared by a household.
EMPLOYER_DOMAINS = ["".join(ch for ch in e.lower() if ch.isalpha()) + ".com" for e in EMPLOYERS]
OLD_EMAIL_DOMAINS = ["aol.com", "msn.com", "earthlink.net", "juno.com", "att.net", "verizon.net"]

# What a silo writes when it has no national id but the field is mandatory.
PLACEHOLDER_NATIONAL_IDS = [0, 999_999_999, 123_456_789, 111_111_111]

# Online banking pages (digital sessions): everyday pages, one page per product, life-event pages.
EVERYDAY_PAGES = ["home", "accounts", "payments", "statements", "offers"]
PRODUCT_PAGES = {"savings": "savings_rates", "term_deposit": "term_deposits", "credit_card": "credit_cards",
                 "personal_loan": "personal_loans", "auto_loan": "auto_loans", "mortgage": "mortgage_calculator"}
EVENT_PAGES = {"home_purchase": ["mortgage_calculator", "home_buying_guide"], "marriage": ["joint_accounts"],
               "new_child": ["family_banking"], "job_change": ["direct_deposit"],
               "retirement": ["retirement_planner"]}
OTHER_PAGES = ["investments", "insurance"]
PAGES = list(dict.fromkeys(EVERYDAY_PAGES + list(PRODUCT_PAGES.values())
                           + [p for pages in EVENT_PAGES.values() for p in pages] + OTHER_PAGES))
