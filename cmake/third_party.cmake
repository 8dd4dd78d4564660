# Libraries from Debian's -dev packages, found once here and handed to the modules that use them.
# The README's "Dependencies" table says why each was chosen.
set(CLIPDEX_TEXT_DEPS "")
set(CLIPDEX_IMAGE_DEPS "")
set(CLIPDEX_MODEL_DEPS "")
set(CLIPDEX_HUB_DEPS "")
