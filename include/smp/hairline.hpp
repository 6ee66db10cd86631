// Hairline design in real units: templates placed from landmarks, custom lines, the existing one.
#pragma once
