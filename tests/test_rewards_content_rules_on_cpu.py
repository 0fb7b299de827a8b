"""The content rules, module by module: stance (ConText), the claims of the reading, invented findings.

Each input is written the way clinicians and instruction-tuned models write, with a comment saying
why it should be read as it is. The whole-response orderings live in the validity suite.
"""

from __future__ import annotations

import pytest

from verl_crpo.rewards.case import build_case
from verl_crpo.rewards.context import Verdict, stance
from verl_crpo.rewards.findings import invented_findings
from verl_crpo.rewards.parsing import parse_response
from verl_crpo.rewards.reading import BlockReading, read
from verl_crpo.rewards.text import words_of


def case_of(question: str, options: dict[str, str], gold: str = "A"):
    return build_case("test", gold, {"question": question, "options": options}, True)


class _Weighing:
    """What the reading's analysis says of each option, as the tests below ask it."""

    def __init__(self, analysis: BlockReading):
        self.analysis = analysis
        # Weighed with a distinctive reason and not left open.
        self.addressed = frozenset(
            letter for letter in analysis.reasons if analysis.verdicts.get(letter) != Verdict.UNCERTAIN
        )
        self.leaders = analysis.leaders
        self.stance = dict(analysis.support)


def weigh_options(text: str, case) -> _Weighing:
    response = f"<dx>\n{text}\n</dx>\n<conclusion>\nFinal answer: \\boxed{{{case.gold}}}\n</conclusion>"
    return _Weighing(read(parse_response(response), case).analysis)


THYROID = case_of(
    "A 34-year-old woman has fatigue, weight gain and constipation for 3 months. She feels cold. "
    "Her pulse is 54/min. Examination shows dry skin and delayed relaxation of the ankle reflexes. "
    "Serum TSH is elevated. Which of the following is the most appropriate treatment?",
    {"A": "Levothyroxine", "B": "Methimazole", "C": "Radioactive iodine", "D": "Propranolol", "E": "Hydrocortisone"},
)
KNOWLEDGE = case_of(
    "Drug of choice for childhood absence seizures is:",
    {"A": "Phenytoin", "B": "Carbamazepine", "C": "Ethosuximide", "D": "Phenobarbitone"},
    gold="C",
)


class TestStance:
    @pytest.mark.parametrize(
        ("clause", "sign"),
        [
            ("levothyroxine replaces the missing hormone and is the treatment", 1),  # "is the treatment"
            ("ethosuximide is the drug of choice", 1),  # "of choice"
            ("metformin is first-line", 1),  # "first line"
            ("b methimazole inhibits tpo supported", 1),  # a check mark, read as "supported"
            ("hydrocortisone treats adrenal insufficiency which nothing here suggests", -1),  # negated support
            ("her bradycardia argues against it", -1),  # "against"
            ("methimazole would worsen her hypothyroidism", -1),  # a harmful consequence
            ("carbamazepine is notorious for aggravating absences", -1),  # inflected rejection word
            ("pneumonia is less likely", -1),  # "less" negates "likely"
            ("we can rule out heart failure", -1),  # "rule out"
            ("no adrenal signs", 0),  # a negation that negates no verdict is no verdict
            ("radioactive iodine ablates the gland", 0),  # knowledge, no verdict
            ("typical absence seizures arise from thalamic circuits", 0),  # "absence" is not a negation
        ],
    )
    def test_sign(self, clause, sign):
        value = stance(words_of(clause))
        assert (value > 0) - (value < 0) == sign


class TestWeighing:
    def test_prose_without_cue_words_addresses_every_option(self):
        # Content about each option, no "unlikely" anywhere.
        text = (
            "Levothyroxine replaces the missing hormone and is the treatment.\n"
            "Methimazole blocks thyroid hormone synthesis and would worsen hypothyroidism.\n"
            "Radioactive iodine ablates the gland, a treatment for Graves disease or toxic nodules.\n"
            "Propranolol controls adrenergic symptoms of hyperthyroidism; her bradycardia argues against it.\n"
            "Hydrocortisone treats adrenal insufficiency, which nothing here suggests."
        )
        weighing = weigh_options(text, THYROID)
        assert weighing.addressed == set("ABCDE")
        assert weighing.leaders == ("A",)

    def test_markdown_list_with_marks(self):
        # Letter markers, bold, en dashes and check/cross marks, the way instruction-tuned models write.
        text = (
            "- **A. Levothyroxine** – synthetic T4; replaces deficient hormone. ✔\n"
            "- **B. Methimazole** – inhibits thyroid peroxidase; would worsen her condition. ✘\n"
            "- **C. Radioactive iodine** – ablative therapy for Graves disease. ✘"
        )
        weighing = weigh_options(text, THYROID)
        assert weighing.addressed == set("ABC")
        assert weighing.stance["A"] > 0 > weighing.stance["B"]

    def test_template_reason_repeated_for_every_option_earns_nothing(self):
        # The same finding as the reason for all five options is a template.
        text = "Option A is supported because the patient has an elevated TSH.\n" + "".join(
            f"Option {x} is unlikely because the patient has an elevated TSH.\n" for x in "BCDE"
        )
        assert weigh_options(text, THYROID).addressed == frozenset()

    @pytest.mark.parametrize(
        "generic",
        [
            "Option B is less consistent with the clinical picture.",
            "Option B does not fit this scenario as well.",
            "B is not the best choice here.",
            "Option B does not align with the key features of this case.",
            "Option B would not be the first choice in this context.",
        ],
    )
    def test_generic_discourse_is_no_reason(self, generic):
        assert "B" not in weigh_options(generic, THYROID).addressed

    def test_restating_the_option_is_no_reason(self):
        # Only the option's own words.
        assert "C" not in weigh_options("Radioactive iodine is radioactive iodine.", THYROID).addressed

    def test_sentence_listing_options_is_no_reason(self):
        text = "Methimazole, radioactive iodine and propranolol all treat hyperthyroidism."
        assert weigh_options(text, THYROID).addressed == frozenset()

    def test_continued_sentences_belong_to_the_option(self):
        # "It ..." continues the option of the sentence before.
        weighing = weigh_options("Methimazole is a thionamide. It would worsen her hypothyroidism.", THYROID)
        assert "B" in weighing.addressed and weighing.stance["B"] < 0

    def test_contrast_rejects_the_second_option(self):
        weighing = weigh_options("Levothyroxine rather than methimazole replaces the hormone.", THYROID)
        assert weighing.stance["A"] >= 0 > weighing.stance["B"]

    def test_inflections_name_an_option_but_other_words_on_its_root_do_not(self):
        case = case_of(
            "Which enzyme is deficient in phenylketonuria?", {"A": "Tyrosinase", "B": "Phenylalanine hydroxylase"}
        )
        assert weigh_options("Tyrosinaemia type I has liver failure.", case).stance == {}  # names no option
        assert "A" in weigh_options("Tyrosinases make melanin; albinism follows their loss.", case).addressed

    def test_initials_name_an_option(self):
        case = case_of("Fever, rash and arthritis.", {"A": "Adult-onset Still disease", "B": "Lupus"})
        assert "A" in weigh_options("AOSD: quotidian fever with a salmon rash and ferritin very high.", case).addressed

    def test_negative_stem_inverts_stance(self):
        # In a NOT question the answer is the option argued not to be a feature.
        case = case_of(
            "Which of the following is NOT a feature of nephrotic syndrome?",
            {"A": "Haematuria", "B": "Hypoalbuminaemia"},
        )
        text = (
            "Haematuria is not a feature of nephrotic syndrome. It points to a nephritic process. "
            "Hypoalbuminaemia is consistent with heavy proteinuria."
        )
        assert weigh_options(text, case).leaders == ("A",)


class TestInventedFindings:
    @pytest.mark.parametrize(
        "text",
        [
            "Her mother has Hashimoto thyroiditis.",  # family history
            "She had a goitre on examination.",  # an exam finding the case lacks
            "On examination, a goitre was palpable.",  # exam, the item after the trigger
            "Anti-TPO antibodies were positive.",  # a test result
            "A thyroid ultrasound showed a heterogeneous gland.",  # imaging
            "She has a history of lithium use.",  # past history
            "Her medications include amiodarone.",  # medications
            "Her free T4 was 0.3 ng/dL.",  # a value
        ],
    )
    def test_each_kind_of_invention_counts(self, text):
        assert invented_findings(text, THYROID) >= 1

    @pytest.mark.parametrize(
        "text",
        [
            "She has primary hypothyroidism.",  # the diagnosis the analysis argues: a reading of the case
            "Her bradycardia argues against propranolol.",  # interpreting pulse 54/min
            "She had constipation and dry skin.",  # restating case findings
            "She denies a family history of thyroid disease.",  # negated
            "If she had a goitre, Hashimoto thyroiditis would be likely.",  # hypothetical
            "Anti-TPO antibodies would be positive in Hashimoto thyroiditis.",  # knowledge
            "Methimazole is used for hyperthyroidism.",  # knowledge about an option
            "TSH above 10 mIU/L warrants treatment.",  # a threshold, not a value
            "Her pulse of 54/min is slow; 54 = bradycardia.",  # the case's own value
            "A 3-month history of fatigue and weight gain.",  # the presenting illness the case states
        ],
    )
    def test_readings_and_knowledge_are_not_inventions(self, text):
        assert invented_findings(text, THYROID) == 0

    def test_no_patient_gives_no_licence_to_invent_one(self):
        # A knowledge question: describing a patient is invention, with or without numbers.
        assert invented_findings("This 7-year-old girl has staring spells.", KNOWLEDGE) >= 1
        assert invented_findings("The patient is a girl whose teacher reports daydreaming.", KNOWLEDGE) >= 1
        assert invented_findings("Absence seizures show 3-Hz spike-and-wave discharges on EEG.", KNOWLEDGE) == 0
