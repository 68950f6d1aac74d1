"""Given names and what people are called instead: a nickname agrees with the full name in identity resolution
(the rules of jobs/unify/identity.py and the name levels of jobs/unify/linkage.py)."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

# Common English given names and what people are called instead (a public nickname table).
NICKNAMES: dict[str, tuple[str, ...]] = {
    "abigail": ("abby", "abbie", "gail"), "albert": ("al", "bert"), "alexander": ("alex", "al", "sasha"),
    "alexandra": ("alex", "sandra", "lexi"), "alexis": ("alex", "lexi"), "alfred": ("al", "alf", "fred"),
    "andrew": ("andy", "drew"), "anthony": ("tony",), "arthur": ("art",), "barbara": ("barb", "babs"),
    "benjamin": ("ben", "benny"), "beverly": ("bev",), "bradley": ("brad",), "catherine": ("cathy", "kate"),
    "charles": ("charlie", "chuck", "chas"), "christina": ("tina", "chris", "christy"),
    "christine": ("chris", "christy"), "christopher": ("chris", "kit"), "cynthia": ("cindy",),
    "daniel": ("dan", "danny"), "danielle": ("dani", "elle"), "david": ("dave", "davey"),
    "deborah": ("debbie", "deb"), "donald": ("don", "donny"), "dorothy": ("dot", "dottie"),
    "douglas": ("doug",), "edward": ("ed", "eddie", "ted", "ned"), "elizabeth": ("liz", "beth", "betty", "eliza"),
    "frances": ("fran", "frankie"), "francis": ("frank",), "frank": ("frankie",), "gerald": ("jerry", "gerry"),
    "gregory": ("greg",), "harold": ("harry", "hal"), "isabella": ("bella", "izzy"),
    "jacob": ("jake",), "jacqueline": ("jackie",), "jacquelyn": ("jackie",), "james": ("jim", "jimmy", "jamie"),
    "jennifer": ("jen", "jenny"), "jeffrey": ("jeff",), "jessica": ("jess", "jessie"),
    "john": ("jack", "johnny"), "jonathan": ("jon", "jonny"), "joseph": ("joe", "joey"),
    "joshua": ("josh",), "judith": ("judy",), "katherine": ("kate", "katie", "kathy", "kat"),
    "kathleen": ("kathy", "kate"), "kathryn": ("kate", "kathy"), "kenneth": ("ken", "kenny"),
    "kimberly": ("kim",), "lawrence": ("larry",), "madison": ("maddie",), "margaret": ("maggie", "peggy", "meg"),
    "matthew": ("matt",), "melissa": ("missy", "mel"), "michael": ("mike", "mikey"), "nathan": ("nate",),
    "nicholas": ("nick", "nicky"), "pamela": ("pam",), "patricia": ("pat", "patty", "trish"),
    "patrick": ("pat", "paddy"), "peter": ("pete",), "raymond": ("ray",), "rebecca": ("becky", "becca"),
    "richard": ("rick", "rich", "dick", "richie"), "robert": ("bob", "rob", "bobby", "robbie"),
    "ronald": ("ron", "ronnie"), "russell": ("russ",), "samantha": ("sam", "sammy"), "samuel": ("sam", "sammy"),
    "sandra": ("sandy",), "stephanie": ("steph",), "stephen": ("steve",), "steven": ("steve",),
    "susan": ("sue", "susie"), "theresa": ("terri", "tess"), "teresa": ("terri", "tess"),
    "thomas": ("tom", "tommy"), "timothy": ("tim",), "victoria": ("vicky", "tori"), "vincent": ("vince",),
    "virginia": ("ginny",), "walter": ("walt",), "william": ("bill", "will", "billy", "liam"),
    "zachary": ("zach", "zack"),
}
# "|nick:full|nick:full|...": one constant string, so checking a pair is one substring search (a map
# literal would be rebuilt for every row on some engines).
NICKNAME_PAIRS = "|" + "|".join(f"{nick}:{full}" for full, nicks in sorted(NICKNAMES.items())
                                 for nick in nicks) + "|"


def is_nickname(nick: Column, full: Column) -> Column:
    """`nick` is a nickname of the given name `full` (both lower-case letters)."""
    return F.instr(F.lit(NICKNAME_PAIRS), F.concat(F.lit("|"), nick, F.lit(":"), full, F.lit("|"))) > 0
