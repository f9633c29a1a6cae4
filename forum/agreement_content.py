"""The agreement's content: vision, six principles, thirteen commitments (sv + en).

From the local agreement between the City of Gothenburg and the idea-driven
organisations (signed September 2012). The descriptions are this product's
reading of it, in the words of the seed slides where they say something.
"""

VISION_SV = "Göteborg är en stad där medborgarna engagerar sig och där engagemanget tas tillvara."
VISION_EN = "Gothenburg is a city where citizens get involved and their engagement is put to use."

PRINCIPLES = [
    (
        "integritet-och-oberoende",
        "Integritet och oberoende",
        "Integrity and independence",
        "De idéburna organisationerna är självständiga röstbärare och opinionsbildare, "
        "även när de samarbetar med eller får stöd av staden.",
        "The idea-driven organisations are independent voices and opinion-formers, "
        "also when they work with or are funded by the city.",
    ),
    (
        "dialog",
        "Dialog",
        "Dialogue",
        "Parterna möts i återkommande dialog, lyssnar på varandra och för samtalet tidigt.",
        "The parties meet in recurring dialogue, listen to each other and talk early.",
    ),
    (
        "kvalitet",
        "Kvalitet",
        "Quality",
        "Samverkan ska ge verksamhet av god kvalitet för dem den är till för.",
        "Working together should give activities of good quality for the people they serve.",
    ),
    (
        "langsiktighet",
        "Långsiktighet",
        "Long-term perspective",
        "Samarbete och finansiering planeras långsiktigt så att organisationerna kan bygga verksamhet.",
        "Cooperation and funding are planned for the long term so organisations can build activities.",
    ),
    (
        "oppenhet-och-insyn",
        "Öppenhet och insyn",
        "Openness and transparency",
        "Underlag, beslut och uppföljning är öppna; alla kan se vad som sagts och vad som hänt.",
        "Background, decisions and follow-up are open; anyone can see what was said and what happened.",
    ),
    (
        "mangfald",
        "Mångfald",
        "Diversity",
        "Organisationer av olika storlek, form och inriktning ska kunna delta på lika villkor.",
        "Organisations of every size, form and focus can take part on equal terms.",
    ),
]

COMMITMENTS = [
    (
        "kunskapsokning-i-goteborgs-stad",
        "Kunskapsökning i Göteborgs stad",
        "Greater knowledge within the City of Gothenburg",
        "Staden lär sig mer om den sociala ekonomins organisationer: nya samtalspartner, "
        "ny koppling till målgrupper, insikt i nya verksamheter och metoder.",
        "The city learns more about the social economy's organisations: new partners, new links "
        "to target groups, insight into new activities and methods.",
    ),
    (
        "kunskapsokning-i-social-ekonomi",
        "Kunskapsökning i social ekonomi",
        "Greater knowledge within the social economy",
        "Organisationerna får kunskap om hur staden fungerar, fattar beslut och kan samverka.",
        "Organisations learn how the city works, takes decisions and can cooperate.",
    ),
    (
        "forstarkt-samspel-och-tidigt-samrad",
        "Förstärkt samspel och tidigt samråd",
        "Stronger interplay and early consultation",
        "Organisationerna är med redan vid problemformuleringen och får bättre chans att påverka "
        "riktningen för en strategi.",
        "Organisations take part while the problem is still being formulated and get a better "
        "chance to influence the direction of a strategy.",
    ),
    (
        "starka-sociala-ekonomins-forutsattningar",
        "Stärka sociala ekonomins förutsättningar",
        "Strengthening the conditions of the social economy",
        "Staden arbetar för goda villkor för föreningar, kooperativ, stiftelser och sociala företag.",
        "The city works for good conditions for associations, cooperatives, foundations and "
        "social enterprises.",
    ),
    (
        "dialogforum-och-dialogformer",
        "Dialogforum och dialogformer",
        "Dialogue forums and forms of dialogue",
        "Det finns stående mötesplatser och former för dialog mellan staden och organisationerna.",
        "There are standing meeting places and forms of dialogue between the city and the "
        "organisations.",
    ),
    (
        "samhallsutveckling-och-utvecklingsfragor",
        "Samhällsutveckling och utvecklingsfrågor",
        "Community development and development issues",
        "Parterna tar sig gemensamt an frågor om stadens och samhällets utveckling.",
        "The parties take on questions of the city's and society's development together.",
    ),
    (
        "finansieringsformer-for-den-sociala-ekonomin",
        "Finansieringsformer för den sociala ekonomin",
        "Forms of funding for the social economy",
        "Nya finansieringsformer prövas, som idéburet offentligt partnerskap (IOP) och "
        "upphandling med social hänsyn.",
        "New forms of funding are tried, such as idea-driven public partnership (IOP) and "
        "procurement with social considerations.",
    ),
    (
        "mangfald-av-utforare",
        "Mångfald av utförare",
        "Diversity of providers",
        "Fler idéburna organisationer kan driva verksamhet, till exempel daglig verksamhet genom "
        "kooperativ.",
        "More idea-driven organisations can run services, for example daily activities through "
        "cooperatives.",
    ),
    (
        "samverkan-inom-den-sociala-ekonomin",
        "Samverkan inom den sociala ekonomin",
        "Cooperation within the social economy",
        "Organisationerna samverkar med varandra och delar kunskap och resurser.",
        "The organisations cooperate with each other and share knowledge and resources.",
    ),
    (
        "delaktighet",
        "Delaktighet",
        "Participation",
        "Göteborgarna ska kunna vara delaktiga i det som rör dem, genom organisationerna.",
        "The people of Gothenburg can take part in what concerns them, through the organisations.",
    ),
    (
        "jamstalldhet-och-mangfald",
        "Jämställdhet och mångfald",
        "Gender equality and diversity",
        "Arbetet främjar jämställdhet och tar tillvara mångfalden i staden.",
        "The work promotes gender equality and makes use of the city's diversity.",
    ),
    (
        "spridning-av-overenskommelsen",
        "Spridning av överenskommelsen",
        "Spreading the agreement",
        "Överenskommelsen görs känd i stadens förvaltningar och i organisationerna.",
        "The agreement is made known in the city's departments and in the organisations.",
    ),
    (
        "uppfoljning-och-utvardering-av-overenskommelsen",
        "Uppföljning och utvärdering av överenskommelsen",
        "Follow-up and evaluation of the agreement",
        "Parterna följer upp och utvärderar hur överenskommelsen hålls, öppet och återkommande.",
        "The parties follow up and evaluate how the agreement is kept, openly and regularly.",
    ),
]

DEPARTMENTS = [
    "Social resursnämnd",
    "Idrotts- och föreningsnämnden",
    "Kulturnämnden",
    "Stadsdelsnämnderna",
]
