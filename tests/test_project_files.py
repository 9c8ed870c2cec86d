"""LICENSE and CITATION.cff agree with setup.py and gsdd_basicsr/version.py."""
import os
import re

import yaml
from helpers import ROOT

from gsdd_basicsr.version import __version__


def _setup_license():
    with open(os.path.join(ROOT, 'setup.py'), encoding='utf-8') as f:
        return re.search(r"license='([^']+)'", f.read()).group(1)


def test_license_file_is_the_license_setup_py_declares():
    assert _setup_license() == 'Apache-2.0'
    with open(os.path.join(ROOT, 'LICENSE'), encoding='utf-8') as f:
        text = f.read()
    assert 'Apache License' in text and 'Version 2.0, January 2004' in text
    assert 'END OF TERMS AND CONDITIONS' in text  # the whole text, not a pointer to it


def test_citation_names_the_paper_and_this_release():
    with open(os.path.join(ROOT, 'CITATION.cff'), encoding='utf-8') as f:
        cff = yaml.safe_load(f)
    assert cff['cff-version'] == '1.2.0'
    assert cff['license'] == _setup_license()
    assert str(cff['version']) == __version__
    paper = cff['preferred-citation']
    assert paper['title'].startswith('GSDD: Generative Space Dataset Distillation')
    assert paper['year'] == 2024 and [a['family-names'] for a in paper['authors']][:2] == ['Zhang', 'Su']


def test_sdist_ships_license_and_citation():
    with open(os.path.join(ROOT, 'MANIFEST.in'), encoding='utf-8') as f:
        lines = f.read().split('\n')
    assert 'include LICENSE' in lines and 'include CITATION.cff' in lines
