// Face landmarks (when a face is visible): the anchors of hairline design and calibration.
#pragma once
