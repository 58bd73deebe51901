"""Generate the bundled sample web pages (recipes/data/web/) deterministically.

Written for this project: sentences per language are our own; pages are assembled from them
with a fixed seed inside realistic page chrome (navigation, sidebar, footer), so that main
content extraction and language identification have real work to do.  Also writes a few
pages with no main content, and exact duplicates (for the dedup stages of later recipes).

    python scripts/make_sample_data.py [OUT_DIR]
"""

from __future__ import annotations

import html
import random
import sys
from pathlib import Path

SENTENCES = {
    "en": [
        "The old bridge over the river was rebuilt in stone after the great flood of the last century.",
        "Most home cooks find that fresh bread needs far less yeast than the recipe on the packet suggests.",
        "A small garden can feed a family through the summer if the beds are planned with care.",
        "The city council voted on Tuesday to extend the cycle lanes along the harbour road.",
        "Engineers tested the new battery for three months before it was approved for public buses.",
        "Many travellers prefer the slow coastal train because the views are worth the extra hour.",
        "Our library now lends tools, seeds and board games as well as books and films.",
        "The museum reopened its north wing with a collection of maps drawn by early sailors.",
        "Regular stretching in the morning helps many people avoid back pain during long working days.",
        "The software update fixes a bug that caused the laptop to wake up in the middle of the night.",
        "Farmers in the valley expect a good harvest because the spring rain came at the right time.",
        "Children at the local school built a weather station and publish their readings every week.",
        "If you store tomatoes in the fridge, they lose much of their flavour within a few days.",
        "The committee will publish its final report on public transport before the end of the year.",
        "Volunteers cleaned the beach on Saturday and collected more than two hundred kilograms of plastic.",
        "Learning a second language is easier when you read short stories that you actually enjoy.",
        "The bakery on the corner has sold the same rye loaf for more than forty years.",
        "Scientists measured the temperature of the lake at different depths during the whole winter.",
    ],
    "de": [
        "Die alte Brücke über den Fluss wurde nach dem großen Hochwasser aus Stein wieder aufgebaut.",
        "Viele Hobbyköche merken, dass frisches Brot weniger Hefe braucht, als auf der Packung steht.",
        "Ein kleiner Garten kann eine Familie durch den Sommer bringen, wenn die Beete gut geplant sind.",
        "Der Stadtrat hat am Dienstag beschlossen, die Radwege entlang der Hafenstraße zu verlängern.",
        "Die Ingenieure haben die neue Batterie drei Monate lang getestet, bevor sie zugelassen wurde.",
        "Viele Reisende nehmen lieber den langsamen Zug an der Küste, weil sich die Aussicht lohnt.",
        "Unsere Bibliothek verleiht jetzt auch Werkzeuge, Saatgut und Brettspiele.",
        "Das Museum hat seinen Nordflügel mit einer Sammlung alter Seekarten wiedereröffnet.",
        "Regelmäßiges Dehnen am Morgen hilft vielen Menschen, Rückenschmerzen im Büro zu vermeiden.",
        "Das Update behebt einen Fehler, durch den der Laptop mitten in der Nacht aufgewacht ist.",
        "Die Bauern im Tal erwarten eine gute Ernte, weil der Regen im Frühjahr zur richtigen Zeit kam.",
        "Die Kinder der Grundschule haben eine Wetterstation gebaut und veröffentlichen jede Woche ihre Messwerte.",
        "Wer Tomaten im Kühlschrank lagert, verliert innerhalb weniger Tage einen großen Teil des Geschmacks.",
        "Der Ausschuss wird seinen Abschlussbericht zum Nahverkehr noch vor Ende des Jahres vorlegen.",
        "Freiwillige haben am Samstag den Strand gereinigt und mehr als zweihundert Kilogramm Plastik gesammelt.",
        "Eine zweite Sprache lernt man leichter, wenn man kurze Geschichten liest, die einem wirklich gefallen.",
        "Die Bäckerei an der Ecke verkauft seit über vierzig Jahren dasselbe Roggenbrot.",
        "Die Forscher haben den ganzen Winter über die Temperatur des Sees in verschiedenen Tiefen gemessen.",
    ],
    "fr": [
        "Le vieux pont sur la rivière a été reconstruit en pierre après la grande crue du siècle dernier.",
        "Beaucoup de cuisiniers amateurs constatent que le pain frais demande moins de levure que prévu.",
        "Un petit jardin peut nourrir une famille tout l'été si les parcelles sont bien organisées.",
        "Le conseil municipal a voté mardi le prolongement des pistes cyclables le long du port.",
        "Les ingénieurs ont testé la nouvelle batterie pendant trois mois avant de l'autoriser dans les bus.",
        "Beaucoup de voyageurs préfèrent le train lent de la côte, car la vue vaut bien une heure de plus.",
        "Notre bibliothèque prête désormais des outils, des graines et des jeux de société.",
        "Le musée a rouvert son aile nord avec une collection de cartes dessinées par les premiers marins.",
        "Des étirements réguliers le matin aident beaucoup de personnes à éviter le mal de dos au travail.",
        "La mise à jour corrige un défaut qui réveillait l'ordinateur portable au milieu de la nuit.",
        "Les agriculteurs de la vallée attendent une bonne récolte, "
        "car la pluie du printemps est tombée au bon moment.",
        "Les élèves de l'école du quartier ont construit une station météo et publient leurs relevés chaque semaine.",
        "Si vous gardez les tomates au réfrigérateur, elles perdent une grande partie de leur goût en quelques jours.",
        "La commission publiera son rapport final sur les transports publics avant la fin de l'année.",
        "Des bénévoles ont nettoyé la plage samedi et ramassé plus de deux cents kilos de plastique.",
        "On apprend plus facilement une langue étrangère en lisant des nouvelles que l'on aime vraiment.",
        "La boulangerie du coin vend le même pain de seigle depuis plus de quarante ans.",
        "Les chercheurs ont mesuré la température du lac à différentes profondeurs pendant tout l'hiver.",
    ],
    "es": [
        "El viejo puente sobre el río fue reconstruido en piedra después de la gran inundación del siglo pasado.",
        "Muchos cocineros aficionados descubren que el pan fresco necesita menos levadura de la que indica el paquete.",
        "Un pequeño huerto puede alimentar a una familia durante el verano si los bancales se planifican bien.",
        "El ayuntamiento aprobó el martes ampliar los carriles bici a lo largo de la avenida del puerto.",
        "Los ingenieros probaron la nueva batería durante tres meses antes de aprobarla para los autobuses.",
        "Muchos viajeros prefieren el tren lento de la costa porque las vistas merecen la hora extra.",
        "Nuestra biblioteca ahora también presta herramientas, semillas y juegos de mesa.",
        "El museo reabrió su ala norte con una colección de mapas dibujados por los primeros navegantes.",
        "Estirar con regularidad por la mañana ayuda a muchas personas a evitar el dolor de espalda.",
        "La actualización corrige un error que hacía que el portátil se encendiera en mitad de la noche.",
        "Los agricultores del valle esperan una buena cosecha porque la lluvia de primavera llegó a tiempo.",
        "Los niños de la escuela del barrio construyeron una estación meteorológica y publican sus datos cada semana.",
        "Si guardas los tomates en la nevera, pierden gran parte de su sabor en pocos días.",
        "La comisión publicará su informe final sobre el transporte público antes de que termine el año.",
        "Los voluntarios limpiaron la playa el sábado y recogieron más de doscientos kilos de plástico.",
        "Aprender un segundo idioma es más fácil cuando lees cuentos cortos que de verdad te gustan.",
        "La panadería de la esquina vende el mismo pan de centeno desde hace más de cuarenta años.",
        "Los científicos midieron la temperatura del lago a distintas profundidades durante todo el invierno.",
    ],
    "it": [
        "Il vecchio ponte sul fiume è stato ricostruito in pietra dopo la grande alluvione del secolo scorso.",
        "Molti cuochi dilettanti scoprono che il pane fresco richiede meno lievito "
        "di quanto indicato sulla confezione.",
        "Un piccolo orto può sfamare una famiglia per tutta l'estate se le aiuole sono pianificate con cura.",
        "Il consiglio comunale ha votato martedì il prolungamento delle piste ciclabili lungo il porto.",
        "Gli ingegneri hanno provato la nuova batteria per tre mesi prima di approvarla per gli autobus.",
        "Molti viaggiatori preferiscono il treno lento della costa perché il panorama vale l'ora in più.",
        "La nostra biblioteca ora presta anche attrezzi, semi e giochi da tavolo.",
        "Il museo ha riaperto l'ala nord con una raccolta di carte disegnate dai primi navigatori.",
        "Fare stretching ogni mattina aiuta molte persone a evitare il mal di schiena durante il lavoro.",
        "L'aggiornamento corregge un difetto che faceva accendere il portatile nel cuore della notte.",
        "Gli agricoltori della valle si aspettano un buon raccolto "
        "perché la pioggia di primavera è arrivata al momento giusto.",
        "I bambini della scuola del quartiere hanno costruito una stazione meteo e pubblicano i dati ogni settimana.",
        "Se conservi i pomodori in frigorifero, perdono gran parte del loro sapore in pochi giorni.",
        "La commissione pubblicherà la relazione finale sui trasporti pubblici entro la fine dell'anno.",
        "I volontari hanno pulito la spiaggia sabato e raccolto più di duecento chili di plastica.",
        "Imparare una seconda lingua è più facile quando si leggono racconti brevi che piacciono davvero.",
        "Il forno all'angolo vende la stessa pagnotta di segale da più di quarant'anni.",
        "I ricercatori hanno misurato la temperatura del lago a diverse profondità per tutto l'inverno.",
    ],
    "pt": [
        "A velha ponte sobre o rio foi reconstruída em pedra depois da grande cheia do século passado.",
        "Muitos cozinheiros amadores percebem que o pão fresco precisa de menos fermento do que diz a embalagem.",
        "Uma pequena horta pode alimentar uma família durante o verão se os canteiros forem bem planeados.",
        "A câmara municipal votou na terça-feira o prolongamento das ciclovias ao longo do porto.",
        "Os engenheiros testaram a nova bateria durante três meses antes de a aprovarem para os autocarros.",
        "Muitos viajantes preferem o comboio lento da costa porque a paisagem vale a hora a mais.",
        "A nossa biblioteca agora também empresta ferramentas, sementes e jogos de tabuleiro.",
        "O museu reabriu a ala norte com uma coleção de mapas desenhados pelos primeiros navegadores.",
        "Alongar regularmente de manhã ajuda muitas pessoas a evitar dores nas costas durante o trabalho.",
        "A atualização corrige um erro que fazia o portátil ligar-se a meio da noite.",
        "Os agricultores do vale esperam uma boa colheita porque a chuva da primavera chegou na altura certa.",
        "As crianças da escola do bairro construíram uma estação meteorológica e publicam os dados todas as semanas.",
        "Se guardar os tomates no frigorífico, eles perdem grande parte do sabor em poucos dias.",
        "A comissão vai publicar o relatório final sobre os transportes públicos antes do fim do ano.",
        "Os voluntários limparam a praia no sábado e recolheram mais de duzentos quilos de plástico.",
        "Aprender uma segunda língua é mais fácil quando se leem contos curtos de que se gosta mesmo.",
        "A padaria da esquina vende o mesmo pão de centeio há mais de quarenta anos.",
        "Os cientistas mediram a temperatura do lago a diferentes profundidades durante todo o inverno.",
    ],
    "nl": [
        "De oude brug over de rivier is na de grote overstroming van de vorige eeuw in steen herbouwd.",
        "Veel thuiskoks merken dat vers brood minder gist nodig heeft dan op het pakje staat.",
        "Een kleine moestuin kan een gezin de hele zomer voeden als de bedden goed worden gepland.",
        "De gemeenteraad heeft dinsdag besloten de fietspaden langs de haven te verlengen.",
        "De ingenieurs hebben de nieuwe batterij drie maanden getest voordat die voor de bussen werd goedgekeurd.",
        "Veel reizigers nemen liever de langzame trein langs de kust omdat het uitzicht het extra uur waard is.",
        "Onze bibliotheek leent nu ook gereedschap, zaden en bordspellen uit.",
        "Het museum heeft de noordvleugel heropend met een verzameling kaarten van de eerste zeevaarders.",
        "Regelmatig rekken in de ochtend helpt veel mensen om rugpijn op het werk te voorkomen.",
        "De update verhelpt een fout waardoor de laptop midden in de nacht wakker werd.",
        "De boeren in het dal verwachten een goede oogst omdat de voorjaarsregen op het juiste moment viel.",
        "De kinderen van de buurtschool hebben een weerstation gebouwd en publiceren elke week hun metingen.",
        "Wie tomaten in de koelkast bewaart, verliest binnen een paar dagen veel van de smaak.",
        "De commissie publiceert haar eindrapport over het openbaar vervoer nog voor het einde van het jaar.",
        "Vrijwilligers hebben zaterdag het strand schoongemaakt en meer dan tweehonderd kilo plastic verzameld.",
        "Een tweede taal leer je makkelijker als je korte verhalen leest die je echt leuk vindt.",
        "De bakker op de hoek verkoopt al meer dan veertig jaar hetzelfde roggebrood.",
        "De onderzoekers hebben de hele winter de temperatuur van het meer op verschillende diepten gemeten.",
    ],
    "ja": [
        "川に架かる古い橋は、前世紀の大洪水の後に石で再建されました。",
        "多くの家庭の料理人は、焼きたてのパンには袋に書かれているよりも少ないイーストで十分だと気づきます。",
        "花壇をよく計画すれば、小さな畑でも夏の間ずっと家族の食卓を支えることができます。",
        "市議会は火曜日、港沿いの自転車道を延長することを決めました。",
        "技術者たちは新しい電池を三か月間試験してから、路線バスへの採用を認めました。",
        "多くの旅行者は、景色がよいので海沿いをゆっくり走る列車を好みます。",
        "私たちの図書館では、本のほかに工具や種、ボードゲームも貸し出しています。",
        "博物館は北棟を再開し、初期の船乗りが描いた地図の展示を始めました。",
        "毎朝のストレッチは、長時間の仕事による腰痛を防ぐのに役立ちます。",
        "今回の更新で、ノートパソコンが夜中に勝手に起動する不具合が修正されました。",
        "谷の農家は、春の雨がちょうどよい時期に降ったので豊作を期待しています。",
        "地元の小学校の子どもたちは気象観測所を作り、毎週その記録を公開しています。",
    ],
}

TITLES = {
    "en": ["Local news", "Garden notes", "Kitchen diary", "Travel tips", "Science today"],
    "de": ["Lokales", "Gartentipps", "Küchentagebuch", "Reisetipps", "Wissenschaft heute"],
    "fr": ["Actualités locales", "Notes de jardin", "Journal de cuisine", "Conseils de voyage", "Science aujourd'hui"],
    "es": ["Noticias locales", "Notas del huerto", "Diario de cocina", "Consejos de viaje", "Ciencia hoy"],
    "it": ["Notizie locali", "Appunti dall'orto", "Diario di cucina", "Consigli di viaggio", "Scienza oggi"],
    "pt": ["Notícias locais", "Notas da horta", "Diário de cozinha", "Dicas de viagem", "Ciência hoje"],
    "nl": ["Lokaal nieuws", "Tuinnotities", "Keukendagboek", "Reistips", "Wetenschap vandaag"],
    "ja": ["地域のニュース", "畑のメモ", "台所日記", "旅のヒント", "今日の科学"],
}

NAV = ["Home", "News", "Archive", "About", "Contact", "Login", "Subscribe"]


def page(rng: random.Random, lang: str, with_content: bool = True) -> str:
    sentences = SENTENCES[lang]
    title = rng.choice(TITLES[lang])
    nav = "".join(f'<li><a href="/{n.lower()}">{n}</a></li>' for n in NAV)
    side = "".join(f'<li><a href="/tag/{i}">{html.escape(rng.choice(TITLES[lang]))} {i}</a></li>'
                   for i in rng.sample(range(100), 6))
    body = ""
    if with_content:
        paragraphs = []
        for _ in range(rng.randint(3, 7)):
            chosen = rng.sample(sentences, rng.randint(2, 5))
            paragraphs.append("<p>" + " ".join(html.escape(s) for s in chosen) + "</p>")
        body = f"<article><h1>{html.escape(title)}</h1>{''.join(paragraphs)}</article>"
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        '<script>window.analytics = {track: function () {}};</script><style>body{font-family:sans-serif}</style></head>'
        f'<body><header><nav><ul>{nav}</ul></nav></header><main>{body}'
        f'<aside><h2>Related</h2><ul>{side}</ul></aside></main>'
        '<footer><p>&copy; 2026 Example Media</p><a href="/privacy">Privacy</a> <a href="/terms">Terms</a></footer>'
        "</body></html>\n"
    )


def main(out: Path) -> None:
    rng = random.Random(20261122)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for lang in SENTENCES:
        for i in range(55 if lang != "ja" else 25):
            (out / lang).mkdir(exist_ok=True)
            (out / lang / f"page-{i:03d}.html").write_text(page(rng, lang), encoding="utf-8")
            count += 1
    (out / "misc").mkdir(exist_ok=True)
    for i in range(8):  # pages that are all chrome, no article: extract removes them
        empty = page(rng, rng.choice(list(SENTENCES)), with_content=False)
        (out / "misc" / f"empty-{i:02d}.html").write_text(empty, encoding="utf-8")
        count += 1
    for i, lang in enumerate(["en", "de", "fr", "en", "es", "it"]):  # exact copies under other names
        src = out / lang / f"page-{i:03d}.html"
        (out / "misc" / f"copy-{i:02d}-{lang}.html").write_bytes(src.read_bytes())
        count += 1
    print(f"wrote {count} pages to {out}")


if __name__ == "__main__":
    default = Path(__file__).resolve().parent.parent / "recipes" / "data" / "web"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
