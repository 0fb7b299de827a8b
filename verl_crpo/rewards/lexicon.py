"""The reward's word lists, in one place: what is content and what is only discourse.

Every list is our choice (CRPO's rules are unpublished), English only, lower case, and applies to
words as :func:`~verl_crpo.rewards.text.words_of` gives them (apostrophes dropped: ``doesnt``).

* :data:`STOP_WORDS`: function words; never content.
* :data:`GENERIC_WORDS`: words every vignette or answer uses; sharing them with the case is not
  citing a finding.
* :data:`DISCOURSE_WORDS`: what one says about *any* option without knowing anything about it:
  verdicts, fit and likelihood, the question's own vocabulary, vague verbs ("does not fit this
  scenario as well", "is less consistent with the overall picture"). A reason about an option
  needs content beyond these.
* :data:`SUPPORT_WORDS`, :data:`REJECT_WORDS`, :data:`NEGATION_WORDS`: the stance triggers of
  :mod:`verl_crpo.rewards.context` (ConText-style).
* :data:`HYPOTHETICAL_WORDS`: triggers that make a statement hypothetical, generic or a plan
  rather than a fact about this patient (ConText's "hypothetical" modifier).
* :data:`TEST_WORDS`: examinations, tests and studies whose result can be reported.
"""

from __future__ import annotations

__all__ = [
    "DISCOURSE_WORDS",
    "GENERIC_WORDS",
    "HYPOTHETICAL_WORDS",
    "NEGATION_WORDS",
    "NOT_REASONS",
    "REJECT_WORDS",
    "STOP_WORDS",
    "SUPPORT_WORDS",
    "TEST_WORDS",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _inflected(text: str) -> frozenset[str]:
    """The words of ``text`` with their regular inflections (-s, -es, -ed, -d, -ing), over-generated.

    Example:
        >>> {"aggravates", "aggravated", "aggravating", "worsens", "worsened"} <= _inflected("aggravate worsen")
        True
    """
    out = set()
    for word in text.split():
        base = word[:-1] if word.endswith("e") else word
        out.update((word, word + "s", word + "es", word + "ed", word + "d", base + "ing", base + "ed"))
    return frozenset(out)


STOP_WORDS = _words(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our out over own same she
    should so some such than that the their them then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you
    your may might must shall per via yet thus hence therefore however although though whereas
    since given due made make makes one two three first second also another any either neither
    """
)

GENERIC_WORDS = _words(
    """
    patient patients year years old month months week weeks day days hour hours minute minutes
    woman women man men boy girl child infant presents presented presenting comes came brought
    physician doctor department emergency clinic office hospital examination exam shows showed
    following likely likelihood diagnosis diagnose diagnosed answer option options choice correct
    incorrect best next step management explanation explains findings finding symptoms symptom
    clinical presentation picture case history evaluation further laboratory studies study
    normal abnormal limits within results result test tests level levels value values since
    because reports report says states complains complaint complaints past medical recent recently
    physical vital signs sign noted note notes shown show reveals revealed reveal right wrong
    possible possibly scenario here seen this presentation vignette question overall temperature
    pulse respirations respiratory rate pressure min mm hg sided
    """
)

DISCOURSE_WORDS = _words(
    """
    fit fits fitting fitted match matches matching matched align aligns aligned aligning alignment
    consistent consistency inconsistent compatible incompatible correspond corresponds corresponding
    agree agrees explain explained explaining account accounts accounted accounting
    support supports supported supporting supportive unsupported suggest suggests suggested suggesting
    suggestive indicate indicates indicated indicating indicative indication point points pointed pointing
    favour favours favoured favouring favor favors favored favoring prefer preferred preferable
    choose chosen select selected selecting pick choice choices option options answer answers alternative
    alternatives candidate candidates distractor distractors possibility possibilities
    likely unlikely less least more most probable probably improbable plausible implausible possible
    possibly certainly definitely clearly obviously strongly weakly somewhat rather quite really
    best better good bad poor poorer worse worst ideal optimal suboptimal inferior superior preferred
    appropriate inappropriate suitable unsuitable reasonable unreasonable relevant irrelevant applicable
    right wrong correct incorrect accurate inaccurate true false valid invalid sound
    exclude excludes excluded excluding exclusion eliminate eliminates eliminated eliminating
    rule rules ruled ruling reject rejects rejected rejecting dismiss dismissed discard discarded
    consider considered considering consideration considerations
    scenario scenarios context contexts setting settings picture pictures presentation presentations
    situation situations circumstances case cases vignette question questions stem item items
    feature features aspect aspects detail details element elements factor factors component components
    information data evidence clue clues hint hints sign signs picture overall whole entire general
    overall key main major minor central core important importance significant significance notable
    specific particular certain various several many much little enough
    finding findings described describes description given based basis regarding concerning
    respect terms relation related relating unrelated
    here there this that these those such thing things something anything nothing everything
    way ways kind kinds type types sort form manner fashion extent degree level
    make makes made making take takes taken taking give gives gave giving get gets got see sees saw seen
    seem seems seemed appear appears appeared look looks looked think thought know known note noted
    show shows showed shown present presents presented presenting fall falls fell belong belongs
    address addresses addressed addressing cover covers covered covering capture captures captured
    reflect reflects reflected reflecting represent represents represented
    remain remains remained stay stays leave leaves left keep keeps kept
    use uses used using work works worked working serve serves served
    problem problems issue issues condition conditions situation underlying
    first second third last final finally next then also additionally furthermore moreover
    overall ultimately therefore thus hence so because since given
    approach approaches strategy strategies choice choices decision decisions management manage managing
    treatment treatments therapy therapies intervention interventions option options step steps
    diagnosis diagnoses diagnostic cause causes caused causing etiology aetiology mechanism mechanisms
    explanation explanations reason reasons reasoning rationale logic analysis analyze analyse
    statement statements claim claims concept concepts principle principles idea ideas
    apply applies applied fits scenario patient patients individual person people
    clinically clinical typical typically usually generally commonly often sometimes always never
    classic classical classically characteristic characteristically hallmark hallmarks
    expected unexpected expect expects usual unusual common uncommon rare rarely
    well fully partly partially entirely completely only merely simply alone
    strong weak high low primary secondary
    lack lacks lacking lacked absence absent present presence
    already still even again instead just rather especially particularly exactly directly
    """
)
# "primary", "high", "low", "strong", "weak", "present", "absent" are discourse on their own;
# with a finding ("low pulse", "primary hypothyroidism") the finding carries the content.

SUPPORT_WORDS = _inflected(
    """
    likely consistent compatible explain support suggest suggestive indicate indicative
    pathognomonic fit favour favor confirm correct best appropriate ideal optimal choose select account
    point preferred effective responsible definitive mainstay cornerstone diagnostic role benefit
    """
)
# "classic", "typical", "characteristic" and "hallmark" describe what an option is classic *for*,
# as often about a distractor as about the answer: knowledge, not a verdict.
REJECT_WORDS = _inflected(
    """
    unlikely inconsistent incompatible against exclude incorrect wrong contraindicated contraindication
    inappropriate unnecessary premature implausible improbable atypical ineffective useless irrelevant
    unrelated inferior worsen worse exacerbate aggravate harmful dangerous hazardous avoid eliminate
    dismiss rejected distractor unsupported unhelpful inadequate precipitate
    """
)
NEGATION_WORDS = _words(
    """
    no not nothing none neither nor without never cannot cant doesnt dont didnt wouldnt wont isnt arent
    wasnt werent shouldnt couldnt hasnt havent hadnt lacks lack lacking absent fails fail denies denied
    """
)
HYPOTHETICAL_WORDS = _words(
    """
    if would could might may can should expect expected expects typically usually often generally
    commonly classically tend tends associated association predisposes predispose check obtain measure
    assess evaluate recommend recommended consider considering whether unless suspect suspected possible
    possibly potential potentially
    """
)

# Nouns naming an examination, a test or a study whose result can be reported.
TEST_WORDS = _words(
    """
    antibody antibodies biopsy ct mri xray radiograph radiography ultrasound ultrasonography
    sonography echocardiogram echocardiography echo ecg ekg electrocardiogram eeg emg culture cultures
    serology smear urinalysis scan imaging angiogram angiography endoscopy colonoscopy bronchoscopy
    puncture titer titre titers titres panel screen assay pcr stain staining aspirate histology
    pathology cytology labs tests test troponin troponins d-dimer bnp lipase amylase ferritin
    cortisol crp esr ana spirometry abg gas procalcitonin electrophoresis karyotype sequencing
    mammogram mammography workup exam examination auscultation palpation fundoscopy testing genetic microscopy
    antigen immunofluorescence gene variant genotyping
    """
)

# Words that are never a reason about an option: function words, vignette vocabulary, discourse
# and stance triggers, and the words that name the options themselves.
NOT_REASONS = (
    STOP_WORDS
    | GENERIC_WORDS
    | DISCOURSE_WORDS
    | SUPPORT_WORDS
    | REJECT_WORDS
    | NEGATION_WORDS
    | {
        "supported",
        "rejected",
        "option",
        "choice",
    }
)
