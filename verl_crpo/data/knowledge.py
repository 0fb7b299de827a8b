"""The disease table behind the synthetic cases: findings a vignette may show, and what each disease is.

Every phrase is short (at most four words) so that a response citing a finding never copies a
five-word run of the case text (the reward does not count verbatim copies as reasoning), and
qualitative (no values with units) so that reasoning about a distractor never states a number the
case lacks (the reward reads those as invented findings).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DISEASES", "Disease"]


@dataclass(frozen=True)
class Disease:
    """One diagnosis the generator can ask about.

    Attributes:
        name: the option text, e.g. ``"Community-acquired pneumonia"``.
        system: organ system; distractors are drawn from the same system first, so that options
            compete on findings rather than on topic.
        symptoms: history findings (what the patient reports).
        signs: examination, laboratory or imaging findings.
        mechanism: one clause on what the disease is or does, used to support the chosen option.
    """

    name: str
    system: str
    symptoms: tuple[str, ...]
    signs: tuple[str, ...]
    mechanism: str

    @property
    def findings(self) -> tuple[str, ...]:
        return self.symptoms + self.signs


def _d(name: str, system: str, symptoms: str, signs: str, mechanism: str) -> Disease:
    return Disease(name, system, tuple(symptoms.split("; ")), tuple(signs.split("; ")), mechanism)


DISEASES: tuple[Disease, ...] = (
    _d(
        "Community-acquired pneumonia",
        "lung",
        "fever; productive cough; pleuritic chest pain",
        "crackles at one base; lobar consolidation on x-ray; raised white cell count",
        "a bacterial infection filling the alveoli with exudate",
    ),
    _d(
        "Pulmonary embolism",
        "lung",
        "sudden breathlessness; sharp chest pain; recent long flight",
        "tachycardia; a swollen calf; low oxygen saturation",
        "a clot from the leg veins blocking the pulmonary arteries",
    ),
    _d(
        "Asthma exacerbation",
        "lung",
        "episodic wheeze; night-time cough; chest tightness",
        "diffuse expiratory wheeze; reduced peak flow; prolonged expiration",
        "reversible bronchoconstriction of inflamed airways",
    ),
    _d(
        "Spontaneous pneumothorax",
        "lung",
        "sudden one-sided chest pain; abrupt breathlessness; tall thin build",
        "absent breath sounds; hyperresonant percussion; visible pleural line",
        "air leaking into the pleural space and collapsing the lung",
    ),
    _d(
        "Sarcoidosis",
        "lung",
        "dry cough; fatigue; tender shin nodules",
        "bilateral hilar lymphadenopathy; raised serum calcium; non-caseating granulomas",
        "non-caseating granulomas that also make calcitriol",
    ),
    _d(
        "Acute myocardial infarction",
        "heart",
        "crushing chest pain; sweating; pain radiating to jaw",
        "ST elevation; raised troponin; new Q waves",
        "occlusion of a coronary artery causing myocardial necrosis",
    ),
    _d(
        "Acute pericarditis",
        "heart",
        "chest pain easing forward; recent viral illness; pain worse lying",
        "pericardial friction rub; diffuse ST elevation; PR depression",
        "inflammation of the pericardium",
    ),
    _d(
        "Aortic dissection",
        "heart",
        "tearing back pain; abrupt pain onset; long-standing hypertension",
        "unequal arm pulses; widened mediastinum; aortic regurgitation murmur",
        "a tear in the aortic intima that splits the wall",
    ),
    _d(
        "Infective endocarditis",
        "heart",
        "fever; night sweats; recent dental work",
        "new heart murmur; splinter haemorrhages; positive blood cultures",
        "infection of a heart valve that seeds emboli",
    ),
    _d(
        "Congestive heart failure",
        "heart",
        "breathlessness lying flat; swollen ankles; waking up breathless",
        "raised jugular venous pressure; bibasal crackles; third heart sound",
        "a failing ventricle that backs fluid into lungs and veins",
    ),
    _d(
        "Acute appendicitis",
        "abdomen",
        "periumbilical pain moving right; loss of appetite; vomiting",
        "right lower quadrant tenderness; rebound tenderness; raised white cell count",
        "an obstructed, inflamed appendix",
    ),
    _d(
        "Acute cholecystitis",
        "abdomen",
        "right upper quadrant pain; pain after fatty meals; fever",
        "positive Murphy sign; gallbladder wall thickening; gallstones on ultrasound",
        "a gallstone blocking the cystic duct and inflaming the gallbladder",
    ),
    _d(
        "Acute pancreatitis",
        "abdomen",
        "epigastric pain radiating back; heavy alcohol use; vomiting",
        "raised serum lipase; epigastric tenderness; pancreatic oedema",
        "autodigestion of the pancreas by its own enzymes",
    ),
    _d(
        "Peptic ulcer disease",
        "abdomen",
        "burning epigastric pain; pain eased by food; regular NSAID use",
        "epigastric tenderness; positive Helicobacter test; black tarry stools",
        "acid damage to the gastric or duodenal mucosa",
    ),
    _d(
        "Small bowel obstruction",
        "abdomen",
        "colicky abdominal pain; bilious vomiting; no flatus",
        "abdominal distension; high-pitched bowel sounds; dilated small bowel loops",
        "a blocked small bowel, often from adhesions",
    ),
    _d(
        "Type 1 diabetes mellitus",
        "endocrine",
        "excessive thirst; frequent urination; weight loss",
        "raised blood glucose; urine ketones; low C-peptide",
        "autoimmune destruction of the insulin-making beta cells",
    ),
    _d(
        "Hyperthyroidism",
        "endocrine",
        "heat intolerance; palpitations; weight loss",
        "fine tremor; suppressed TSH; diffuse goitre",
        "excess thyroid hormone speeding up metabolism",
    ),
    _d(
        "Hypothyroidism",
        "endocrine",
        "cold intolerance; weight gain; constipation",
        "slow relaxing reflexes; raised TSH; dry coarse skin",
        "too little thyroid hormone slowing metabolism",
    ),
    _d(
        "Cushing syndrome",
        "endocrine",
        "easy bruising; weight gain; proximal muscle weakness",
        "purple abdominal striae; raised urinary cortisol; central obesity",
        "chronic excess of cortisol",
    ),
    _d(
        "Addison disease",
        "endocrine",
        "fatigue; salt craving; dizziness on standing",
        "skin hyperpigmentation; low serum sodium; raised serum potassium",
        "adrenal failure with too little cortisol and aldosterone",
    ),
    _d(
        "Ischaemic stroke",
        "neuro",
        "sudden one-sided weakness; slurred speech; facial droop",
        "hemiparesis; upgoing plantar response; hypodense area on CT",
        "an occluded cerebral artery starving brain tissue",
    ),
    _d(
        "Bacterial meningitis",
        "neuro",
        "severe headache; fever; neck stiffness",
        "positive Kernig sign; petechial rash; turbid cerebrospinal fluid",
        "bacterial infection of the meninges",
    ),
    _d(
        "Migraine",
        "neuro",
        "throbbing one-sided headache; light sensitivity; visual aura",
        "normal neurological examination; normal brain imaging; family history of migraine",
        "a primary headache disorder with neurovascular pain",
    ),
    _d(
        "Multiple sclerosis",
        "neuro",
        "painful blurred vision; tingling limbs; relapsing episodes",
        "periventricular white matter lesions; oligoclonal bands; afferent pupillary defect",
        "autoimmune demyelination of the central nervous system",
    ),
    _d(
        "Parkinson disease",
        "neuro",
        "resting hand tremor; slow movements; shuffling gait",
        "cogwheel rigidity; reduced arm swing; masked face",
        "loss of dopamine neurons in the substantia nigra",
    ),
    _d(
        "Urinary tract infection",
        "kidney",
        "burning urination; urinary frequency; suprapubic pain",
        "positive urine nitrites; leukocytes in urine; suprapubic tenderness",
        "bacterial infection of the bladder",
    ),
    _d(
        "Acute pyelonephritis",
        "kidney",
        "flank pain; high fever; rigors",
        "costovertebral angle tenderness; white cell casts; positive urine culture",
        "ascending bacterial infection of the kidney",
    ),
    _d(
        "Kidney stone",
        "kidney",
        "colicky flank pain; pain radiating to groin; restlessness",
        "blood in urine; stone on CT; no fever",
        "a calculus obstructing the ureter",
    ),
    _d(
        "Iron deficiency anaemia",
        "blood",
        "fatigue; heavy menstrual periods; craving ice",
        "pale conjunctivae; low ferritin; small pale red cells",
        "too little iron to make haemoglobin",
    ),
    _d(
        "Vitamin B12 deficiency",
        "blood",
        "numb feet; fatigue; strict vegan diet",
        "large red cells; low serum B12; reduced vibration sense",
        "too little B12 for DNA synthesis and myelin",
    ),
)
