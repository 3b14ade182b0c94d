from . import google
from . import jobop
